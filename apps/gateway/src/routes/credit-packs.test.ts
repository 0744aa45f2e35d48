import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config.js';
import { type AppFixture, makeAppFixture } from '../testing/app-fixture.js';

let f: AppFixture;
beforeAll(async () => {
  f = await makeAppFixture({
    env: {
      CREDIT_PACKS: JSON.stringify([
        { id: 'tiny', priceMicro: '1000000', bonusBps: 0 },
        { id: 'big', priceMicro: '20000000', bonusBps: 1500, lotTtlSeconds: 2_592_000 },
      ]),
    },
  });
});

describe('GET /v1/credit-packs', () => {
  it('lists the configured catalog with the credits each pack mints, without a token', async () => {
    const response = await f.app.request('/v1/credit-packs');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      packs: [
        { id: 'tiny', priceMicro: '1000000', bonusBps: 0, creditsMicro: '1000000', lotTtlSeconds: null },
        { id: 'big', priceMicro: '20000000', bonusBps: 1500, creditsMicro: '23000000', lotTtlSeconds: 2_592_000 },
      ],
    });
  });

  it('defaults to starter, standard and premium', () => {
    const config = parseConfig({ NODE_ENV: 'test' });
    expect(config.economy.creditPacks.map((p) => [p.id, p.priceMicro, p.bonusBps])).toEqual([
      ['starter', 5_000_000n, 0],
      ['standard', 10_000_000n, 500],
      ['premium', 25_000_000n, 1000],
    ]);
    expect(config.economy.ruleCooldownMs).toBe(172_800_000);
  });

  it('refuses a bad catalog or cooldown at start, naming the variable', () => {
    const bad = [
      { CREDIT_PACKS: 'not json' },
      { CREDIT_PACKS: JSON.stringify([{ id: 'a', priceMicro: '999', bonusBps: 0 }]) },
      { CREDIT_PACKS: JSON.stringify([{ id: 'a', priceMicro: 5000000, bonusBps: 0 }]) },
      {
        CREDIT_PACKS: JSON.stringify([
          { id: 'a', priceMicro: '5000000', bonusBps: 0 },
          { id: 'a', priceMicro: '6000000', bonusBps: 0 },
        ]),
      },
      { CREDIT_PACKS: JSON.stringify([{ id: 'a', priceMicro: '5000000', bonusBps: 0, extra: 1 }]) },
      { REVENUE_RULE_COOLDOWN_SECONDS: '-1' },
      { REVENUE_RULE_COOLDOWN_SECONDS: '99999999' },
    ];
    for (const env of bad) {
      try {
        parseConfig({ NODE_ENV: 'test', ...env });
        expect.unreachable(`accepted ${JSON.stringify(env)}`);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).issues.map((i) => i.variable)).toEqual(Object.keys(env));
      }
    }
    expect(parseConfig({ NODE_ENV: 'test', REVENUE_RULE_COOLDOWN_SECONDS: '60' }).economy.ruleCooldownMs).toBe(60_000);
  });
});
