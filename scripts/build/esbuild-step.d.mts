export declare const ESPRUINO_MODULES: string[];
/** Bundles one entry to one ES2020 script. */
export declare function bundleEntry(options: { entry: string; external?: string[]; minify?: boolean }): Promise<string>;
