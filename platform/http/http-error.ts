/** An error fastify answers with its status code, and `{ error: code, message }` as the body. */
export function httpError(statusCode: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode, code });
}
