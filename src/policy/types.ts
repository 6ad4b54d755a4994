export const COMPANY_ROLES = ['admin', 'manager', 'editor', 'collaborator'] as const;
export type CompanyRole = (typeof COMPANY_ROLES)[number];
export const EDITABLE_COMPANY_ROLES = ['manager', 'editor', 'collaborator'] as const;
export const MEMBERSHIP_STATUSES = ['invited', 'active', 'inactive'] as const;
export type MembershipStatus = (typeof MEMBERSHIP_STATUSES)[number];

/** A permission as stored in a role and returned by the API. */
export interface StoredPermission {
  action: string;
  subject: string;
  fields?: string[];
  inverted?: boolean;
}

/**
 * The project role a project's creator receives (D15). Companies may edit it but not
 * delete it, or registering a project would have nothing to give its creator.
 */
export const CREATOR_PROJECT_ROLE = 'project-admin';
