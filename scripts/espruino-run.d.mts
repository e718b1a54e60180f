/** What one interpreter reported. */
export interface EspruinoRunResult {
  bin: string;
  uploaded: { size: number; stored: number };
  errors: string[];
  outOfMemory?: boolean;
  memory?: { total: number; usedBefore: number; usedAfterLoad: number; agentBlocks: number; freeAfterLoad: number; blocksize: number; freeAfterSelfTest: number };
  exports?: number;
  trialBeforeBoot?: boolean;
  trialAfterActivate?: boolean;
  trialAfterConfirm?: boolean;
  version?: string;
  storageTarget?: string;
  corrupted?: string;
  /** A target hook that rejects later: what happened first (it must be "hook", then "rejected co-refused"). */
  hookOrder?: string[];
  hmacValid?: boolean;
  hmacForged?: boolean;
  stream?: { bytes: number; chunks: number; crc: number };
  warnings?: string[];
  expectedStream?: { bytes: number; crc32: number };
}
/** The device self-test script. */
export declare function selfTest(port: number, hmac: { key: string; message: string; tag: string }): string;
/** Runs the bundle in each interpreter. */
export declare function runOnEspruino(options: { bins: string[]; bundle: string }): Promise<EspruinoRunResult[]>;
