/** The API's error type and a typical message for each status it documents; internal to `claude-rx/testing`. */
export const API_ERRORS: ReadonlyMap<number, { readonly type: string; readonly message: string }> = new Map([
  [400, { type: 'invalid_request_error', message: 'Invalid request' }],
  [401, { type: 'authentication_error', message: 'invalid x-api-key' }],
  [403, { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' }],
  [404, { type: 'not_found_error', message: 'The requested resource could not be found.' }],
  [413, { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' }],
  [429, { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit.' }],
  [500, { type: 'api_error', message: 'Internal server error' }],
  [529, { type: 'overloaded_error', message: 'Overloaded' }],
]);

/** The HTTP status the API answers with for an error type (500 for types it does not document). */
export function statusForErrorType(type: string): number {
  for (const [status, error] of API_ERRORS) if (error.type === type) return status;
  return 500;
}

/** The API's JSON error body. */
export function errorBody(type: string, message: string, requestId: string): string {
  return JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId });
}
