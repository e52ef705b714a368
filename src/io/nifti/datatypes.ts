/** NIfTI datatype codes vbm reads and writes, with their sizes and names. */
export const DT = {
  UINT8: 2,
  INT16: 4,
  INT32: 8,
  FLOAT32: 16,
  FLOAT64: 64,
  INT8: 256,
  UINT16: 512,
  UINT32: 768,
  INT64: 1024,
  UINT64: 1280,
} as const;

export interface DatatypeInfo {
  code: number;
  name: string;
  bytes: number;
  /** Float types can represent NaN; for the others SPM's implicit mask treats 0 as missing. */
  isFloat: boolean;
}

const TABLE: DatatypeInfo[] = [
  { code: DT.UINT8, name: 'uint8', bytes: 1, isFloat: false },
  { code: DT.INT16, name: 'int16', bytes: 2, isFloat: false },
  { code: DT.INT32, name: 'int32', bytes: 4, isFloat: false },
  { code: DT.FLOAT32, name: 'float32', bytes: 4, isFloat: true },
  { code: DT.FLOAT64, name: 'float64', bytes: 8, isFloat: true },
  { code: DT.INT8, name: 'int8', bytes: 1, isFloat: false },
  { code: DT.UINT16, name: 'uint16', bytes: 2, isFloat: false },
  { code: DT.UINT32, name: 'uint32', bytes: 4, isFloat: false },
  { code: DT.INT64, name: 'int64', bytes: 8, isFloat: false },
  { code: DT.UINT64, name: 'uint64', bytes: 8, isFloat: false },
];

/** Name, bytes per voxel and kind of a NIfTI datatype code; undefined for a code vbm cannot read. */
export function datatypeInfo(code: number): DatatypeInfo | undefined {
  return TABLE.find((t) => t.code === code);
}
