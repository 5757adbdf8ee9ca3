/** oidc-provider 9.x ships no types: the tests use it untyped (the SDK types it structurally). */
declare module 'oidc-provider' {
  // biome-ignore lint/suspicious/noExplicitAny: the library ships no declarations
  const Provider: any;
  // biome-ignore lint/suspicious/noExplicitAny: the library ships no declarations
  type Provider = any;
  export default Provider;
}
