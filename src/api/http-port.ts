// The little HTTP the device API client needs: one GET, a bounded body, no redirects. The agent supplies an
// implementation over src/http (see src/agent/http-adapter.ts); tests supply fakes.

/** A complete, small response. Header names are lower-case. */
export interface ApiResponse {
  status: number;
  headers: { [lowerName: string]: string };
  body: Uint8Array;
}

/** Performs one GET and reads at most `maxBody` bytes of body (more is an error). Never follows redirects. */
export interface ApiHttp {
  get(url: string, headers: { [name: string]: string }, maxBody: number, timeoutMs: number): Promise<ApiResponse>;
}
