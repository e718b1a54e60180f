/** Bytes of the minified ES5 Espruino file per source file. */
export declare function analyzeEspruino(options?: { entry?: string }): Promise<{ total: number; files: { file: string; bytes: number }[] }>;
