export { createCastellanClient, type CanOptions, type CastellanClient, type CastellanClientOptions, type Endpoint } from './client.js';
export { CastellanError, CastellanRequestError, CastellanUnavailableError, isCastellanError, type UnavailableKind } from './errors.js';
export { decideLocally } from './local.js';
export type * from './types.js';
