export declare const ES2020_ENTRY: string;
/** Builds dist/ota-agent.es2020.js's text. */
export declare function buildEs2020(): Promise<string>;
