import { z } from 'zod';

export const ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
/** An id of the API contract, as every request schema checks it. */
export const idSchema = z.string().regex(ID_PATTERN, 'must be an id (1-128 chars of [A-Za-z0-9._:@-])');
