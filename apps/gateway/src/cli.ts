#!/usr/bin/env node
// arrakis-gateway CLI: `arrakis-gateway token ...` mints a bearer token signed with the dev key in DATA_DIR.
import { parseArgs } from 'node:util';
import { DevKeyError, loadOrCreateDevKey } from './auth/dev-key.js';
import { mintToken, TokenOptionError } from './auth/tokens.js';
import { audiences } from './context.js';
import { anchorKeysCommand } from './identity/anchor-keys-cli.js';

const usage = `Usage:
  arrakis-gateway token --aud <${audiences.join('|')}> --sub <id> [--scope a,b] [--ttl-seconds N]
                        [--data-dir DIR] [--issuer ISS]
  arrakis-gateway anchor-keys list|rotate|retire [--data-dir DIR] [--alg ES256|EdDSA] [--kid KID]

Prints a JWT signed with the development key in DATA_DIR/dev-jwk.json (created when absent, the same key the
gateway uses in development). Defaults: --ttl-seconds 3600, --data-dir $DATA_DIR or ./.data,
--issuer $JWT_ISSUER or arrakis-gateway.

Admin tokens act through scopes only: an admin token without one reads nothing. Scopes: admin (everything),
ledger:read, ledger:grant, ledger:caps, pricing:admin, revenue:read, revenue:write, identity:admin.

Example:
  TOKEN=$(arrakis-gateway token --aud arrakis-admin --sub alice --scope admin)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/v1/admin/whoami
`;

class UsageError extends Error {}

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      aud: { type: 'string' },
      sub: { type: 'string' },
      scope: { type: 'string' },
      'ttl-seconds': { type: 'string' },
      'data-dir': { type: 'string' },
      issuer: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usage);
    return;
  }
  if (values.aud === undefined) throw new UsageError('--aud is required');
  if (values.sub === undefined) throw new UsageError('--sub is required');
  const ttlText = values['ttl-seconds'] ?? '3600';
  if (!/^\d+$/.test(ttlText)) throw new UsageError(`--ttl-seconds must be a positive integer, got ${ttlText}`);
  const scopes = (values.scope ?? '')
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const dataDir = values['data-dir'] ?? process.env.DATA_DIR ?? './.data';
  const issuer = values.issuer ?? process.env.JWT_ISSUER ?? 'arrakis-gateway';
  const audience = values.aud as (typeof audiences)[number];
  if (!(audiences as readonly string[]).includes(audience)) {
    throw new UsageError(`--aud must be one of ${audiences.join(', ')}, got ${values.aud}`);
  }
  if (audience === 'arrakis-admin' && scopes.length === 0) {
    process.stderr.write(
      'arrakis-gateway: warning: an admin token without --scope reads nothing (try --scope admin or --scope ledger:read)\n',
    );
  }
  const key = await loadOrCreateDevKey(dataDir);
  if (key.created) process.stderr.write(`arrakis-gateway: generated a new dev key at ${key.path}\n`);
  const minted = await mintToken({
    privateKey: key.privateKey,
    kid: key.kid,
    alg: 'ES256',
    issuer,
    audience,
    sub: values.sub,
    scopes,
    ttlSeconds: Number(ttlText),
    nowMs: Date.now(),
  });
  process.stdout.write(`${minted.token}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'token') {
      await token(rest);
      return 0;
    }
    if (command === 'anchor-keys') return await anchorKeysCommand(rest);
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof TokenOptionError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`arrakis-gateway: ${(error as Error).message}\n\n${usage}`);
      return 2;
    }
    if (error instanceof DevKeyError) {
      process.stderr.write(`arrakis-gateway: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
