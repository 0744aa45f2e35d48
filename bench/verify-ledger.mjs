// Generates a consistent ledger on Postgres with bulk SQL (generate_series, no API calls): accounts that each got
// one grant, `holdsPerAccount` holds reserved, finalized (live, charged) and distributed under the seeded rule, and
// one hold still pending. Every row is what the ledger itself writes for those operations (entries with their
// available balance after, the hold's lots, the charge's distribution and its three `distribute` entries), so
// `verify()` finds it clean. Used by bench/verify-1m.mjs.

/** Micro-USD of each account's grant, of each finalized hold, of its charge, of the pending hold. */
export const grantMicro = 1_000_000n;
export const holdMicro = 1_000n;
export const costMicro = 700n;
export const pendingMicro = 500n;
/** The seeded rule (commons 500, community 7000, foundation 2500 bps) splits a 700 charge into 35 + 490 + 175. */
const shares = [
  ['commons', 'acc_system_commons', 35n],
  ['community', 'acc_system_community', 490n],
  ['foundation', 'acc_system_foundation', 175n],
];

/** Journal entries per account: one mint, 3 credit entries and 3 distribute entries per hold, one pending reserve. */
export const entriesPerAccount = (holdsPerAccount) => 2 + 6 * holdsPerAccount;

/**
 * Inserts `accounts` accounts with `holdsPerAccount` finalized holds each (ids `acc_gen_<a>`, `lot_gen_<a>`,
 * `res_gen_<a>_<h>`, `dst_gen_<a>_<h>`; entry ids and times follow each account's history).
 * `sql` is a postgres.js client on a migrated, empty ledger database.
 */
export async function generateLedger(sql, { accounts, holdsPerAccount }) {
  const perAccount = entriesPerAccount(holdsPerAccount);
  const h = holdsPerAccount;
  const base = "timestamptz '2026-01-01T00:00:00Z'";
  // Entry k of account a has id a * perAccount + k + 1 and is created 1 ms after the entry before it.
  const at = (id) => `${base} + (${id}) * interval '1 millisecond'`;
  await sql.unsafe(`insert into accounts (id, entity_type, entity_id, created_at)
    select 'acc_gen_' || a, 'bench', 'gen-' || a, ${base} from generate_series(0, ${accounts - 1}) a`);
  await sql.unsafe(`insert into lots (id, account_id, pool_id, source_type, original_micro, available_micro,
      reserved_micro, consumed_micro, created_at)
    select 'lot_gen_' || a, 'acc_gen_' || a, 'general', 'grant', ${grantMicro},
      ${grantMicro - BigInt(h) * costMicro - pendingMicro}, ${pendingMicro}, ${BigInt(h) * costMicro},
      ${at(`a * ${perAccount} + 1`)}
    from generate_series(0, ${accounts - 1}) a order by a`);
  // Finalized holds (h < holdsPerAccount) and the pending one (h = holdsPerAccount).
  await sql.unsafe(`insert into reservations (id, account_id, pool_id, amount_micro, status, billing_mode, expires_at,
      created_at, resolved_at, actual_cost_micro, charged_micro, overrun_micro, uncollected_micro)
    select 'res_gen_' || a || '_' || h, 'acc_gen_' || a, 'general',
      case when h < ${h} then ${holdMicro} else ${pendingMicro} end,
      case when h < ${h} then 'finalized' else 'pending' end, 'live',
      ${at(`a * ${perAccount} + 2 + 6 * h`)} + interval '5 minutes', ${at(`a * ${perAccount} + 2 + 6 * h`)},
      case when h < ${h} then ${at(`a * ${perAccount} + 3 + 6 * h`)} end,
      case when h < ${h} then ${costMicro} end, case when h < ${h} then ${costMicro} end,
      case when h < ${h} then 0 end, case when h < ${h} then 0 end
    from generate_series(0, ${accounts - 1}) a, generate_series(0, ${h}) h order by a, h`);
  await sql.unsafe(`insert into reservation_lots (reservation_id, lot_id, position, amount_micro)
    select 'res_gen_' || a || '_' || h, 'lot_gen_' || a, 0,
      case when h < ${h} then ${holdMicro} else ${pendingMicro} end
    from generate_series(0, ${accounts - 1}) a, generate_series(0, ${h}) h order by a, h`);
  await sql.unsafe(`insert into distributions (id, kind, reservation_id, account_id, amount_micro, rule_id, rule_version,
      rule_schema_version, commons_micro, community_micro, foundation_micro, referrer_micro, treasury_micro, created_at)
    select 'dst_gen_' || a || '_' || h, 'charge', 'res_gen_' || a || '_' || h, 'acc_gen_' || a, ${costMicro},
      'rule_initial', 1, 1, ${shares[0][2]}, ${shares[1][2]}, ${shares[2][2]}, 0, 0, ${at(`a * ${perAccount} + 3 + 6 * h`)}
    from generate_series(0, ${accounts - 1}) a, generate_series(0, ${h - 1}) h order by a, h`);
  await insertEntries(sql, { accounts, holdsPerAccount, perAccount, at });
  await sql.unsafe(`select setval(pg_get_serial_sequence('entries', 'id'), ${accounts * perAccount})`);
  await sql.unsafe('analyze');
}

/** The journal, one statement per entry kind; ids follow each account's history. */
async function insertEntries(sql, { accounts, holdsPerAccount: h, perAccount, at }) {
  const columns = `(id, account_id, lot_id, reservation_id, kind, amount_micro, from_bucket, to_bucket,
    available_after_micro, distribution_id, rule_id, rule_version, rule_schema_version, memo, created_at)`;
  const first = (offset) => `a * ${perAccount} + ${offset}`; // entry id of account a at step `offset` (1-based)
  const credit = (offset, kind, amount, from, to, after, hold = `'res_gen_' || a || '_' || h`) =>
    `insert into entries ${columns} overriding system value
     select ${offset}, 'acc_gen_' || a, 'lot_gen_' || a, ${hold}, '${kind}', ${amount}, '${from}', '${to}', ${after},
       null, null, null, null, null, ${at(offset)}
     from generate_series(0, ${accounts - 1}) a, generate_series(0, ${h - 1}) h`;
  await sql.unsafe(`insert into entries ${columns} overriding system value
    select ${first(1)}, 'acc_gen_' || a, 'lot_gen_' || a, null, 'mint', ${grantMicro}, 'external', 'available',
      ${grantMicro}, null, null, null, null, null, ${at(first(1))}
    from generate_series(0, ${accounts - 1}) a`);
  const step = (k) => `${first(2)} + 6 * h + ${k}`;
  await sql.unsafe(
    credit(step(0), 'reserve', holdMicro, 'available', 'reserved', `${grantMicro} - h * ${costMicro} - ${holdMicro}`),
  );
  await sql.unsafe(
    credit(step(1), 'consume', costMicro, 'reserved', 'consumed', `${grantMicro} - h * ${costMicro} - ${holdMicro}`),
  );
  await sql.unsafe(
    credit(
      step(2),
      'release',
      holdMicro - costMicro,
      'reserved',
      'available',
      `${grantMicro} - (h + 1) * ${costMicro}`,
    ),
  );
  for (const [k, [pool, account, amount]] of shares.entries()) {
    await sql.unsafe(`insert into entries ${columns} overriding system value
      select ${step(3 + k)}, '${account}', null, 'res_gen_' || a || '_' || h, 'distribute', ${amount}, 'consumed',
        'revenue', null, 'dst_gen_' || a || '_' || h, 'rule_initial', 1, 1, '${pool}', ${at(step(3 + k))}
      from generate_series(0, ${accounts - 1}) a, generate_series(0, ${h - 1}) h`);
  }
  await sql.unsafe(`insert into entries ${columns} overriding system value
    select ${first(perAccount)}, 'acc_gen_' || a, 'lot_gen_' || a, 'res_gen_' || a || '_' || ${h}, 'reserve',
      ${pendingMicro}, 'available', 'reserved', ${grantMicro - BigInt(h) * costMicro - pendingMicro},
      null, null, null, null, null, ${at(first(perAccount))}
    from generate_series(0, ${accounts - 1}) a`);
}
