/** Where the project's TypeScript lives. */
export declare const NAME_ROOTS: string[];
/** Guest code that reaches into the built file (folders or files). */
export declare const GUEST_ROOTS: string[];
/** Sorted property names safe to mangle: class-private in the project's TypeScript and used nowhere else. */
export declare function privateNames(options?: { roots?: string[]; guests?: string[] }): string[];
