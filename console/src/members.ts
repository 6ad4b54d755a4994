import { api, companyPath } from './api.js';
import type { Member, MemberList } from './types.js';

/** How a person is shown: their email, else their name and login (local users), else their id. */
export function displayName(member: Member): string {
  if (member.email) return member.email;
  const name = [member.firstName, member.lastName].filter(Boolean).join(' ');
  if (name) return member.login ? `${name} (${member.login})` : name;
  return member.userId;
}

export async function loadMembers(): Promise<Member[]> {
  return (await api.get<MemberList>(companyPath('/members'))).body.members;
}

export const COMPANY_ROLES = ['admin', 'manager', 'editor', 'collaborator'] as const;
