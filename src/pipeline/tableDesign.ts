import { dirname, isAbsolute, resolve } from 'node:path';
import type { Table } from '../node/spreadsheet.js';
import { type Design, type DesignOptions, designMatrix, tableScanLabels } from '../model/designMatrix.js';

/** A scan path as written in a spreadsheet: absolute, or relative to the spreadsheet's folder. */
export function scanResolver(spreadsheetPath: string): (label: string) => string {
  const baseDir = dirname(resolve(spreadsheetPath));
  return (label) => (isAbsolute(label) ? label : resolve(baseDir, label));
}

/** The scans of a table's rows, in spreadsheet order: absolute, or relative to the spreadsheet's folder. */
export function tableScans(table: Table): string[] {
  return tableScanLabels(table).map(scanResolver(table.path));
}

/** SPM12's design from a spreadsheet (model/designMatrix.ts), its scan paths resolved against the spreadsheet's folder. */
export function designFromTable(table: Table, opts: DesignOptions = {}): Design {
  return designMatrix(table, { resolveScan: scanResolver(table.path), ...opts });
}
