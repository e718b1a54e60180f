/** Lint rules for the portable folders. */
export declare const portableRules: Record<string, unknown>;
/** Globs of the portable folders. */
export declare const portableFiles: string[];
/** The ESLint plugin with the project's own portable rules. */
export declare const portablePlugin: { rules: Record<string, unknown> };
