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

/** POST /authzen/{company}/access/v1/evaluation: the request body */
export type EvaluationRequest = {
  /** AuthZEN Subject: type "user" and a user id */
  subject: {
    type: string;
    id: string;
    properties?: {
      [key: string]: unknown;
    };
  };
  /** AuthZEN Action: name is an action of the catalog */
  action: {
    name: string;
    properties?: {
      [key: string]: unknown;
    };
  };
  /** AuthZEN Resource: type is a subject of the catalog */
  resource: {
    type: string;
    id?: string;
    /** the resource's catalog attributes (projectId for project-scoped types) and, for sectioned types, field */
    properties?: {
      [key: string]: unknown;
    };
  };
  /** AuthZEN Context: minVersion, a decimal string, is /v1/check consistency.minVersion; other keys are ignored */
  context?: {
    [key: string]: unknown;
  };
};

/** POST /authzen/{company}/access/v1/evaluation: the path parameters */
export type EvaluationParams = {
  /** the company: one PDP per company; pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
  company: string;
};

/** POST /authzen/{company}/access/v1/evaluation: the 200 answer */
export type EvaluationAnswer = {
  decision: boolean;
  context?: {
    /** the role and rule that decided, or that nothing allowed it */
    reason_admin?: {
      en: string;
    };
    /** the company policy version the answer was taken at */
    version?: string;
    /** why an item of evaluations could not be evaluated (its decision is then false) */
    error?: {
      status: number;
      message: string;
    };
  };
};

/** POST /authzen/{company}/access/v1/evaluations: the request body */
export type EvaluationsRequest = {
  /** AuthZEN Subject: type "user" and a user id */
  subject?: {
    type: string;
    id: string;
    properties?: {
      [key: string]: unknown;
    };
  };
  /** AuthZEN Action: name is an action of the catalog */
  action?: {
    name: string;
    properties?: {
      [key: string]: unknown;
    };
  };
  /** AuthZEN Resource: type is a subject of the catalog */
  resource?: {
    type: string;
    id?: string;
    /** the resource's catalog attributes (projectId for project-scoped types) and, for sectioned types, field */
    properties?: {
      [key: string]: unknown;
    };
  };
  /** AuthZEN Context: minVersion, a decimal string, is /v1/check consistency.minVersion; other keys are ignored */
  context?: {
    [key: string]: unknown;
  };
  /** each item overrides the top-level subject, action, resource and context it names; empty or absent: one evaluation of the top level */
  evaluations?: unknown[];
  options?: {
    evaluations_semantic?: "execute_all" | "deny_on_first_deny" | "permit_on_first_permit";
  };
};

/** POST /authzen/{company}/access/v1/evaluations: the path parameters */
export type EvaluationsParams = {
  /** the company: one PDP per company; pattern: ^[A-Za-z0-9._:@-]{1,128}$ */
  company: string;
};

/** POST /authzen/{company}/access/v1/evaluations: the 200 answer */
export type EvaluationsAnswer = {
  /** in request order; shortened by deny_on_first_deny and permit_on_first_permit */
  evaluations: {
    decision: boolean;
    context?: {
      /** the role and rule that decided, or that nothing allowed it */
      reason_admin?: {
        en: string;
      };
      /** the company policy version the answer was taken at */
      version?: string;
      /** why an item of evaluations could not be evaluated (its decision is then false) */
      error?: {
        status: number;
        message: string;
      };
    };
  }[];
} | {
  decision: boolean;
  context?: {
    /** the role and rule that decided, or that nothing allowed it */
    reason_admin?: {
      en: string;
    };
    /** the company policy version the answer was taken at */
    version?: string;
    /** why an item of evaluations could not be evaluated (its decision is then false) */
    error?: {
      status: number;
      message: string;
    };
  };
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
