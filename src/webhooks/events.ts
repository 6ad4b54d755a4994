import { z } from 'zod';
import { userIdSchema } from '../auth/user-id.js';
import { idSchema } from '../policy/catalog.js';
import { COMPANY_ROLES } from '../policy/types.js';

/**
 * The events Castellan sends to WEBHOOK_URL, as zod schemas: the admin services build their
 * `data`, the outbox wraps it in the envelope, and the OpenAPI document describes both
 * (its `webhooks` section). Castellan sends no email: the platform's mailer acts on these.
 */

const role = z.enum(COMPANY_ROLES);
const time = z.string().describe('ISO 8601');

const invitation = z.object({
  invitationId: userIdSchema.describe('the pending invitation\'s placeholder user id ("invite:<uuid>"), as listed among the members'),
  email: z.string().describe('the invited address, as the inviter wrote it (domain lowercased)'),
  role,
  applicationAccess: z.boolean(),
  developerAccess: z.boolean(),
  type: z.enum(['member', 'guest']).describe('derived from the email domain (D4)'),
  expiresAt: time,
  acceptUrl: z.string().nullable().describe('INVITE_URL_TEMPLATE filled in; null when it is not configured'),
});

const member = z.object({
  userId: userIdSchema,
  email: z.string().nullable(),
  kind: z.enum(['platform', 'local']),
  role,
  status: z.enum(['invited', 'expired', 'active', 'inactive']),
});

export const EVENT_DATA = {
  'invitation.created': z.object({ invitation }),
  'invitation.resent': z.object({ invitation }),
  'invitation.accepted': z.object({
    invitation: z.object({ invitationId: userIdSchema, email: z.string() }),
    member: member.describe('the membership now active under the invitee\'s own user id'),
  }),
  'invitation.declined': z.object({ invitation: invitation.pick({ invitationId: true, email: true, role: true }) }),
  'member.removed': z.object({
    member,
    reason: z.enum(['removed', 'left']).describe('removed by someone with remove Member, or left on their own (DELETE /members/me)'),
  }),
} as const;

export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];

export const EVENT_SUMMARIES: Readonly<Record<EventType, string>> = {
  'invitation.created': 'Someone was invited: send them an email with acceptUrl',
  'invitation.resent': 'An invitation was renewed (re-invited or resent, possibly with another role or access): send the email again',
  'invitation.accepted': 'The invitee accepted with their own verified email; their membership is active',
  'invitation.declined': 'The invitee declined; the invitation is gone',
  'member.removed': 'A membership ended: removed by an admin (an invitation withdrawn included) or left by its member',
};

/** One event as a service emits it: the outbox adds the envelope. */
export type WebhookEvent = { [T in EventType]: { type: T; data: z.infer<(typeof EVENT_DATA)[T]> } }[EventType];

/** Who made the change, as the envelope names them. */
export const eventActor = z.object({
  userId: userIdSchema,
  email: z.string().nullable().describe("the caller's verified email, when their token carried one"),
});
export type EventActor = z.infer<typeof eventActor>;

/** The body of every delivery. */
export function envelopeSchema<T extends EventType>(type: T) {
  return z.object({
    id: z.uuid().describe('unique per event, the same on every retry: deduplicate on it'),
    type: z.literal(type),
    createdAt: time.describe('when the change was made'),
    company: z.object({ id: idSchema, name: z.string() }),
    version: z.string().regex(/^\d+$/).describe("the company's policy version the change produced"),
    actor: eventActor,
    data: EVENT_DATA[type],
  });
}

const encode = (value: string) => encodeURIComponent(value);

/** INVITE_URL_TEMPLATE with `{company}`, `{invitation}` and `{email}` filled in, each percent-encoded. */
export function acceptUrl(template: string | undefined, values: { company: string; invitation: string; email: string }): string | null {
  if (!template) return null;
  return template.replace(/\{(company|invitation|email)\}/g, (_whole, name: keyof typeof values) => encode(values[name]));
}
