export declare const ESPRUINO_BUDGET: number;
export declare const ESPRUINO_CEILING: number;
export declare const BLOCKS_PER_KB: number;
/** Size facts of one bundle. */
export declare function sizeOf(code: string): { bytes: number; gzipBytes: number; estimatedBlocks: number };
/** One summary line per bundle. */
export declare function sizeLine(name: string, code: string, espruino: boolean): string;
