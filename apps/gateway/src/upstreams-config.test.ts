import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedger, type Ledger } from '@arrakis/billing-ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type ConfigIssue, parseConfig } from './config.js';
import { upstreamBodyBytesMaxLimit, upstreamsConfigMax, upstreamTimeoutMsMax } from './proxy/limits.js';
import { openTestLedgerDb, type TestLedgerDb } from './testing/test-ledger-db.js';
import { checkUpstreamMeters } from './upstreams-config.js';

const llm = { id: 'llm', url: 'http://127.0.0.1:9000/api/', meterId: 'llm-tokens' };
const dir = mkdtempSync(join(tmpdir(), 'upstreams-config-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function upstreamsOf(value: unknown) {
  return parseConfig({ NODE_ENV: 'test', UPSTREAMS: JSON.stringify(value) }).upstreams;
}

function issuesOf(env: Record<string, string>): ConfigIssue[] {
  try {
    parseConfig({ NODE_ENV: 'test', ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

function issuesOfUpstreams(value: unknown): string[] {
  return issuesOf({ UPSTREAMS: JSON.stringify(value) }).map((issue) => {
    expect(issue.variable).toBe('UPSTREAMS');
    return issue.message;
  });
}

describe('UPSTREAMS configuration', () => {
  it('is empty by default', () => {
    expect(parseConfig({ NODE_ENV: 'test' }).upstreams).toEqual([]);
  });

  it('fills the defaults and drops the trailing slash of the url', () => {
    expect(upstreamsOf([llm])).toEqual([
      {
        id: 'llm',
        url: 'http://127.0.0.1:9000/api',
        meterId: 'llm-tokens',
        timeoutMs: 60_000,
        firstByteTimeoutMs: 30_000,
        bodyBytesMax: 1024 * 1024,
        onMissingUsage: 'release',
        payPerCall: false,
      },
    ]);
  });

  it('keeps every option given; the first-byte default never exceeds timeoutMs', () => {
    const [full] = upstreamsOf([
      {
        ...llm,
        timeoutMs: 120_000,
        firstByteTimeoutMs: 5000,
        bodyBytesMax: 4096,
        onMissingUsage: 'charge-hold',
        payPerCall: true,
      },
    ]);
    expect(full).toMatchObject({
      timeoutMs: 120_000,
      firstByteTimeoutMs: 5000,
      bodyBytesMax: 4096,
      onMissingUsage: 'charge-hold',
      payPerCall: true,
    });
    expect(upstreamsOf([{ ...llm, timeoutMs: 10_000 }])[0]?.firstByteTimeoutMs).toBe(10_000);
  });

  it('reads UPSTREAMS_FILE, and refuses both variables at once', () => {
    const file = join(dir, 'upstreams.json');
    writeFileSync(file, JSON.stringify([llm]));
    expect(parseConfig({ NODE_ENV: 'test', UPSTREAMS_FILE: file }).upstreams.map((u) => u.id)).toEqual(['llm']);
    const [issue] = issuesOf({ UPSTREAMS: JSON.stringify([llm]), UPSTREAMS_FILE: file });
    expect(issue?.message).toMatch(/either UPSTREAMS or UPSTREAMS_FILE/);
    const missing = issuesOf({ UPSTREAMS_FILE: join(dir, 'nope.json') });
    expect(missing[0]?.variable).toBe('UPSTREAMS_FILE');
  });

  it('refuses what is not a JSON array of upstreams', () => {
    expect(issuesOf({ UPSTREAMS: '[{' })[0]?.message).toMatch(/not valid JSON/);
    expect(issuesOfUpstreams({ llm })[0]).toMatch(/expected a JSON array/);
    const many = Array.from({ length: upstreamsConfigMax + 1 }, (_, i) => ({ ...llm, id: `u${i}` }));
    expect(issuesOfUpstreams(many)[0]).toMatch(new RegExp(`at most ${upstreamsConfigMax}`));
  });

  it('names the upstream and the field of every bad value, one issue each', () => {
    const messages = issuesOfUpstreams([
      llm,
      {
        id: 'Bad Id',
        url: 'ftp://x',
        meterId: 'm',
        timeoutMs: upstreamTimeoutMsMax + 1,
        bodyBytesMax: upstreamBodyBytesMaxLimit + 1,
        onMissingUsage: 'ignore',
        payPerCall: 'yes',
        extra: 1,
      },
    ]);
    const where = 'upstream 1 ("Bad Id")';
    for (const field of ['id', 'url', 'timeoutMs', 'bodyBytesMax', 'onMissingUsage', 'payPerCall']) {
      expect(
        messages.some((m) => m.startsWith(`${where}: ${field}: `)),
        field,
      ).toBe(true);
    }
    expect(messages.some((m) => m.startsWith(where) && m.includes('extra'))).toBe(true);
    expect(messages.some((m) => m.startsWith('upstream 0'))).toBe(false);
  });

  it('refuses a url with a query, a fragment or credentials; a missing field; firstByteTimeoutMs above timeoutMs', () => {
    for (const url of ['http://h/x?y=1', 'http://h/x#f', 'http://user:pw@h/x']) {
      expect(issuesOfUpstreams([{ ...llm, url }])[0]).toMatch(/upstream 0 \("llm"\): url: /);
    }
    expect(issuesOfUpstreams([{ id: 'llm', url: llm.url }])[0]).toMatch(/upstream 0 \("llm"\): meterId: /);
    expect(issuesOfUpstreams([{ ...llm, timeoutMs: 1000, firstByteTimeoutMs: 2000 }])[0]).toMatch(
      /firstByteTimeoutMs: must not exceed timeoutMs \(1000\), got 2000/,
    );
  });

  it('refuses an id listed twice', () => {
    expect(issuesOfUpstreams([llm, { ...llm, url: 'http://127.0.0.1:9001' }])).toEqual([
      'upstream 1 ("llm"): id: "llm" is listed twice',
    ]);
  });
});

describe('checkUpstreamMeters (on a real ledger)', () => {
  let db: TestLedgerDb;
  let ledger: Ledger;
  beforeAll(async () => {
    db = await openTestLedgerDb();
    ledger = createLedger({ db: db.db });
    await ledger.createMeter({
      id: 'llm-tokens',
      holdMicro: 1000n,
      unitPrices: [{ dimension: 'output_tokens', priceMicro: 1n, perUnits: 1n }],
      createdBy: 'test',
    });
  });
  afterAll(async () => {
    await db.close();
  });

  it('passes when every meter exists', async () => {
    await expect(checkUpstreamMeters(ledger, upstreamsOf([llm]))).resolves.toBeUndefined();
  });

  it('throws a ConfigError naming each upstream whose meter does not exist', async () => {
    const upstreams = upstreamsOf([llm, { ...llm, id: 'img', meterId: 'images' }]);
    const error = await checkUpstreamMeters(ledger, upstreams).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      { variable: 'UPSTREAMS', message: expect.stringMatching(/^upstream "img": meter "images" does not exist/) },
    ]);
  });
});
