// Generated from the OpenAPI document Castellan serves at /openapi.json, by
// packages/client/codegen/openapi-types.ts. Do not edit: `npm run client:types` writes it again,
// and packages/client/test/openapi-types.test.ts fails while it differs from a running server.

/** POST /v1/check: the request body */
export type CheckRequest = {
  /** pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
  company: string;
  /** exactly one of id and token */
  principal: {
    /** a user id: the identity provider's sub, or local:<uuid> for local users; 1-255 characters without control characters, not "." or "..", percent-encoded in paths; pattern: ^(?!\.\.?$)[^\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]{1,255}$ */
    id: string;
  } | {
    /** the end user's JWT; its sub is used */
    token: string;
  };
  action: "delete" | "view" | "edit" | "invite" | "create" | "remove" | "manage" | "use";
  resource: {
    type: "Company" | "CompanySettings" | "Member" | "Team" | "Role" | "Project" | "ProjectInformation" | "Scenario" | "ProjectMember" | "Application" | "Builder";
    /** pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
    id?: string;
    /** condition attributes of the type (projectId for project-scoped types); others are ignored */
    attributes?: {
      [key: string]: string | number | boolean;
    };
  };
  /** a section, for types that have them */
  field?: "general" | "branding" | "subscription" | "payments" | "domains" | "notifications" | "support";
  consistency?: {
    /** answer from data at least this new (a write answered it as version); 503 unavailable, with details.currentVersion, while the company has not reached it; pattern: ^\d{1,20}$ */
    minVersion?: string;
  };
};

/** POST /v1/check: the 200 answer */
export type CheckAnswer = {
  allowed: boolean;
  /** the role and rule that decided, or that nothing allowed it */
  reason: string;
  /** pattern: ^\d{1,20}$ */
  version: string;
};

/** POST /v1/check/batch: the request body */
export type BatchRequest = {
  /** pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
  company: string;
  /** exactly one of id and token */
  principal: {
    /** a user id: the identity provider's sub, or local:<uuid> for local users; 1-255 characters without control characters, not "." or "..", percent-encoded in paths; pattern: ^(?!\.\.?$)[^\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]{1,255}$ */
    id: string;
  } | {
    /** the end user's JWT; its sub is used */
    token: string;
  };
  checks: {
    action: "delete" | "view" | "edit" | "invite" | "create" | "remove" | "manage" | "use";
    resource: {
      type: "Company" | "CompanySettings" | "Member" | "Team" | "Role" | "Project" | "ProjectInformation" | "Scenario" | "ProjectMember" | "Application" | "Builder";
      /** pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
      id?: string;
      /** condition attributes of the type (projectId for project-scoped types); others are ignored */
      attributes?: {
        [key: string]: string | number | boolean;
      };
    };
    /** a section, for types that have them */
    field?: "general" | "branding" | "subscription" | "payments" | "domains" | "notifications" | "support";
  }[];
  consistency?: {
    /** answer from data at least this new (a write answered it as version); 503 unavailable, with details.currentVersion, while the company has not reached it; pattern: ^\d{1,20}$ */
    minVersion?: string;
  };
};

/** POST /v1/check/batch: the 200 answer */
export type BatchAnswer = {
  /** pattern: ^\d{1,20}$ */
  version: string;
  /** in request order */
  results: {
    allowed: boolean;
    /** the role and rule that decided, or that nothing allowed it */
    reason: string;
  }[];
};

/** POST /v1/accessible: the request body */
export type AccessibleRequest = {
  /** pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
  company: string;
  /** exactly one of id and token */
  principal: {
    /** a user id: the identity provider's sub, or local:<uuid> for local users; 1-255 characters without control characters, not "." or "..", percent-encoded in paths; pattern: ^(?!\.\.?$)[^\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]{1,255}$ */
    id: string;
  } | {
    /** the end user's JWT; its sub is used */
    token: string;
  };
  action: "delete" | "view" | "edit" | "invite" | "create" | "remove" | "manage" | "use";
  resourceType: "Company" | "CompanySettings" | "Member" | "Team" | "Role" | "Project" | "ProjectInformation" | "Scenario" | "ProjectMember" | "Application" | "Builder";
  consistency?: {
    /** answer from data at least this new (a write answered it as version); 503 unavailable, with details.currentVersion, while the company has not reached it; pattern: ^\d{1,20}$ */
    minVersion?: string;
  };
};

/** POST /v1/accessible: the 200 answer */
export type AccessibleAnswer = {
  /** pattern: ^\d{1,20}$ */
  version: string;
  kind: "all" | "none" | "some" | "conditional";
  /** with kind some: the ids (Project: only projects registered in the company) */
  ids?: string[];
  /** with kind conditional: a MongoDB-style condition tree on the resource attributes */
  filter?: {
    [key: string]: unknown;
  };
};

/** GET /v1/companies/{company}/principals/{userId}/rules: the path parameters */
export type RulesParams = {
  /** pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
  company: string;
  /** a user id: the identity provider's sub, or local:<uuid> for local users; 1-255 characters without control characters, not "." or "..", percent-encoded in paths; pattern: ^(?!\.\.?$)[^\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]{1,255}$ */
  userId: string;
};

/** GET /v1/companies/{company}/principals/{userId}/rules: the query parameters */
export type RulesQuery = {
  format?: "raw" | "packed";
  /** pattern: ^\d{1,20}$ */
  minVersion?: string;
};

/** GET /v1/companies/{company}/principals/{userId}/rules: the 200 answer */
export type RulesAnswer = {
  /** pattern: ^\d{1,20}$ */
  version: string;
  /** CASL raw rules for createMongoAbility, or packed rules (format=packed) for unpackRules */
  rules: unknown[];
};

/** components.schemas.Error */
export type Error = {
  error: {
    /** snake_case error code from the contract */
    code: string;
    message: string;
    details?: {
      [key: string]: unknown;
    };
  };
};
