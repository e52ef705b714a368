/**
 * Spreadsheet columns as numbers or as factors. A column is a factor when it is declared one
 * (`factors:`, or used as a design's factor, subject or condition) or when none of its cells is a
 * number (text such as AD/CN/MCI); a column that mixes numbers and text is an error, since one
 * mistyped cell must not silently turn a covariate into a factor.
 */
import { VbmError } from '../errors.js';
import type { Cell, Table } from '../io/table.js';

const NUMBER = /^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$/;

/** Whether a cell reads as a number (a number, or text such as "72.5" or "72,5"). */
export function isNumberCell(v: Cell): boolean {
  return typeof v === 'number' || (typeof v === 'string' && NUMBER.test(v));
}

export function cellNumber(v: Cell): number {
  return typeof v === 'number' ? v : Number(String(v).replace(',', '.'));
}

/** 'numeric' when every filled cell is a number, 'text' when none is, 'mixed' otherwise. */
export function columnKind(table: Table, name: string): 'numeric' | 'text' | 'mixed' | 'empty' {
  const col = table.header.indexOf(name);
  let nums = 0;
  let texts = 0;
  for (const row of table.rows) {
    // rows are padded to the header (readTable does it; a Table built by hand must too)
    const v = row[col] ?? null;
    if (v === null) continue;
    if (isNumberCell(v)) nums++;
    else texts++;
  }
  if (nums === 0 && texts === 0) return 'empty';
  if (texts === 0) return 'numeric';
  return nums === 0 ? 'text' : 'mixed';
}

/** Where a cell is, as the user sees it: file, row (and scan), column. */
export function cellAt(table: Table, i: number, name: string): string {
  const scan = table.rows[i]?.[0] ?? null;
  return `${table.path}: row ${table.rowNumbers[i]}${scan === null ? '' : ` (${String(scan)})`}, column '${name}'`;
}

export function requireColumn(table: Table, name: string, what: string): void {
  if (!table.header.includes(name) || name === table.header[0]) {
    throw new VbmError(
      `${table.path}: the ${what} column '${name}' is not in the spreadsheet`,
      `the columns are: ${table.header.slice(1).join(', ') || '(none)'}`,
    );
  }
}

/** A numeric column's values over the table's rows; text, empty or infinite cells are errors naming the row. */
export function numericColumn(table: Table, name: string, what = 'covariate'): number[] {
  const col = table.header.indexOf(name);
  return table.rows.map((row, i) => {
    const v = row[col] ?? null;
    const at = cellAt(table, i, name);
    if (v === null)
      throw new VbmError(`${at} is empty`, `fill in every ${what} value, or drop the scan from the spreadsheet`);
    if (!isNumberCell(v)) {
      throw new VbmError(
        `${at}: '${v}' is not a number, and the column is used as a numeric ${what}`,
        `${what}s must be numeric: correct the cell; if the column is a factor (categories), list it under factors: and do not use it as a numeric ${what}`,
      );
    }
    const num = cellNumber(v);
    if (!Number.isFinite(num)) throw new VbmError(`${at}: '${v}' is not a finite number`);
    return num;
  });
}

/** A factor column: its label per table row, and its levels (the given order, else order of first appearance). */
export function factorColumn(
  table: Table,
  name: string,
  order?: string[],
  what = 'factor',
): { labels: string[]; levels: string[] } {
  const col = table.header.indexOf(name);
  const labels = table.rows.map((row, i) => {
    const v = row[col];
    if (v === null)
      throw new VbmError(
        `${cellAt(table, i, name)} is empty`,
        `give every scan a level of the ${what} '${name}', or drop the scan from the spreadsheet`,
      );
    return String(v);
  });
  const seen: string[] = [];
  for (const l of labels) if (!seen.includes(l)) seen.push(l);
  if (!order) return { labels, levels: seen };
  if (new Set(order).size !== order.length)
    throw new VbmError(`levels of '${name}': a level is listed twice (${order.join(', ')})`);
  labels.forEach((l, i) => {
    if (!order.includes(l)) {
      throw new VbmError(
        `${cellAt(table, i, name)}: '${l}' is not one of the levels listed for '${name}' (${order.join(', ')})`,
        `add '${l}' to levels, or correct the cell`,
      );
    }
  });
  for (const l of order) {
    if (!seen.includes(l))
      throw new VbmError(
        `levels of '${name}': no scan has the level '${l}'`,
        `the column's values are: ${seen.join(', ')}`,
      );
  }
  return { labels, levels: order.slice() };
}
