/** Lint rules for the portable folders. */
export declare const portableRules: Record<string, unknown>;
/** Globs of the portable folders. */
export declare const portableFiles: string[];
