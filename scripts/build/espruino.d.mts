export declare const ESPRUINO_ENTRY: string;
export declare const BABEL_OPTIONS: Record<string, unknown>;
export declare const TERSER_OPTIONS: Record<string, unknown>;
/** "codes" unless OTA_ESPRUINO_MESSAGES=full. */
export declare function messagesFromEnv(): 'codes' | 'full';
/** Builds dist/ota-agent.espruino.js's text (or another entry's, through the same chain). */
export declare function buildEspruino(options?: { entry?: string; messages?: 'codes' | 'full' }): Promise<string>;
/** Lowers an ES2020 script to minified ES5. */
export declare function lowerToEs5(code: string, options?: { messages?: 'codes' | 'full' }): Promise<string>;
/** Babel plugins of the second pass. */
export declare const SECOND_PASS_PLUGINS: unknown[];
/** TERSER_OPTIONS plus property mangling of the class-private names that never leave their class. */
export declare function terserOptions(): Record<string, unknown>;
/** Modules the Espruino build replaces (project paths without extension -> replacement file). */
export declare function espruinoSubstitutes(): { [from: string]: string };
/** True when no build option (OTA_ESPRUINO_MESSAGES=full, OTA_ESPRUINO_MD5=1, OTA_ESPRUINO_RAW=1) is set. */
export declare function isDefaultEspruinoBuild(): boolean;
