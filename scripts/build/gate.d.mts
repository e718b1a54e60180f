/** One finding of the gate. */
export interface Violation {
  rule: string;
  message: string;
  line: number;
  column: number;
}
export declare const MISSING_GLOBALS: string[];
export declare const MISSING_MEMBERS: Record<string, string[]>;
export declare const BUILTINS: string[];
/** Checks code for Espruino 2v29: ES5 parse plus the deny-list. */
export declare function checkEspruinoCode(code: string): Violation[];
/** Checks the ES2020 bundle: ES2020 parse, no require/import. */
export declare function checkEs2020Code(code: string): Violation[];
/** One line per violation. */
export declare function formatViolations(violations: Violation[]): string;
/** The Espruino-unsupported regex feature in `pattern`, or null. */
export declare function unsupportedRegexFeature(pattern: string): string | null;
