import { createRoute, z } from '@hono/zod-openapi';
import type { GatewayApp, RouteContext } from '../deps.js';

const micro = (description: string) =>
  z.string().openapi({ description: `${description} Micro-USD as a base-10 string.`, example: '10000000' });

/** One pack of the catalog. */
export const CreditPackSchema = z
  .object({
    id: z.string().openapi({ example: 'standard' }),
    priceMicro: micro('What the pack costs.'),
    bonusBps: z.number().int().openapi({ description: 'Bonus credits in basis points of the price.', example: 500 }),
    creditsMicro: micro('Credits the pack mints: price + floor(price × bonusBps / 10 000).'),
    lotTtlSeconds: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Lifetime of the minted credits; null: they never expire.', example: null }),
  })
  .openapi('CreditPack');

/** `GET /v1/credit-packs`. */
export const CreditPackListSchema = z.object({ packs: z.array(CreditPackSchema) }).openapi('CreditPackList');

/**
 * Registers `GET /v1/credit-packs`: the catalog of credit packs (configuration `CREDIT_PACKS`), public.
 *
 * @example
 * ```ts
 * registerCreditPackRoutes(app, routeContext);
 * ```
 */
export function registerCreditPackRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const listRoute = createRoute({
    method: 'get',
    path: '/v1/credit-packs',
    tags: ['credit packs'],
    summary: 'The credit pack catalog',
    description: 'What a payment can buy: each pack mints one lot of its credits. Anyone may read it.',
    responses: {
      200: {
        description: 'The packs, in catalog order.',
        content: { 'application/json': { schema: CreditPackListSchema } },
      },
    },
  });
  app.openapi(listRoute, (c) =>
    c.json(
      {
        packs: ledger.listCreditPacks().map((pack) => ({
          id: pack.id,
          priceMicro: pack.priceMicro.toString(),
          bonusBps: pack.bonusBps,
          creditsMicro: pack.creditsMicro.toString(),
          lotTtlSeconds: pack.lotTtlMs === null ? null : Math.floor(pack.lotTtlMs / 1000),
        })),
      },
      200,
    ),
  );
}
