// Quoting of SQL text the ledger writes itself (identifiers in generated select lists, literals in rendered queries).

/** A quoted SQL identifier: `"name"`, with inner quotes doubled. */
export const escapeName = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** A quoted SQL string literal: `'text'`, with inner quotes doubled. */
export const escapeString = (value: string): string => `'${value.replace(/'/g, "''")}'`;
