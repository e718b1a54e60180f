export declare const ESPRUINO_MODULES: string[];
/** Bundles one entry to one ES2020 script. */
export declare function bundleEntry(options: { entry: string; external?: string[]; minify?: boolean; substitutes?: { [from: string]: string } }): Promise<string>;
/** An esbuild plugin bundling other files in place of some modules. */
export declare function substitutePlugin(substitutes: { [from: string]: string }): unknown;
