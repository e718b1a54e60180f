export declare const ESPRUINO_ENTRY: string;
export declare const BABEL_OPTIONS: Record<string, unknown>;
export declare const TERSER_OPTIONS: Record<string, unknown>;
/** "codes" unless OTA_ESPRUINO_MESSAGES=full. */
export declare function messagesFromEnv(): 'codes' | 'full';
/** Builds dist/ota-agent.espruino.js's text (or another entry's, through the same chain). */
export declare function buildEspruino(options?: { entry?: string; messages?: 'codes' | 'full' }): Promise<string>;
/** Lowers an ES2020 script to minified ES5. */
export declare function lowerToEs5(code: string, options?: { messages?: 'codes' | 'full' }): Promise<string>;
