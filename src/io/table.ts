/** A spreadsheet as plain data (pure: no file reading; `spreadsheet.ts` reads files into it). */

/** One cell: text, a number, or empty. */
export type Cell = string | number | null;

/** A table as read: the header row and the data rows; `rowNumbers[i]` is the row as the user sees it (header = 1). */
export interface Table {
  path: string;
  header: string[];
  rows: Cell[][];
  rowNumbers: number[];
}
