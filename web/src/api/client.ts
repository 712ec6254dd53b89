// The typed client: openapi-fetch over the generated `paths`, so every call's path,
// parameters, body and answer are checked by TypeScript against the OpenAPI document.
//
// Two middlewares add what every call of a shopper carries: the bearer token of the
// signed-in customer (refreshed once on a 401) and the guest cart's session
// (`X-Cart-Session`). Errors are the API's problem JSON (`Problem`), turned into a
// thrown `ApiProblem` by `unwrap` so that pages show `message` and field `details`.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { session } from "../state/session";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

/** An error answer of the API, with its HTTP status and problem body. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problem.message);
    this.status = status;
    this.problem = problem;
  }
  get code(): string {
    return this.problem.code;
  }
}

/** A problem for a failure that never reached the API (offline, DNS, CORS). */
export function networkProblem(error: unknown): ApiProblem {
  return new ApiProblem(0, {
    code: "network_error",
    message: error instanceof Error ? error.message : String(error),
    details: null,
    hint: null,
  });
}

const auth: Middleware = {
  async onRequest({ request }) {
    const token = session.accessToken();
    if (token && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${token}`);
    }
    const cart = session.cartSession();
    if (cart && !request.headers.has("X-Cart-Session") && !token) {
      request.headers.set("X-Cart-Session", cart);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

/** What openapi-fetch answers: data or error, and the raw response. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

function asProblem(status: number, error: unknown): ApiProblem {
  const body = error as Partial<Problem> | undefined;
  if (body && typeof body.code === "string" && typeof body.message === "string") {
    return new ApiProblem(status, {
      code: body.code,
      message: body.message,
      details: body.details ?? null,
      hint: body.hint ?? null,
    });
  }
  return new ApiProblem(status, { code: `http_${status}`, message: `HTTP ${status}`, details: null, hint: null });
}

/**
 * Runs one call and returns its data, or throws `ApiProblem`. A 401 with a refresh
 * token tries once more after refreshing the session (access tokens are short-lived).
 */
export async function unwrap<T>(call: () => Promise<Answer<T>>): Promise<T> {
  return (await unwrapResponse(call)).data;
}

/**
 * `unwrap`, with the response too: for the headers of a call whose body is a file
 * (an invoice's `Content-Disposition`).
 */
export async function unwrapResponse<T>(call: () => Promise<Answer<T>>): Promise<{ data: T; response: Response }> {
  let answer: Answer<T>;
  try {
    answer = await call();
    if (answer.response.status === 401 && (await session.refresh())) {
      answer = await call();
    }
  } catch (error) {
    throw error instanceof ApiProblem ? error : networkProblem(error);
  }
  if (answer.error !== undefined || !answer.response.ok) {
    if (answer.response.status === 401) session.signOutLocally();
    throw asProblem(answer.response.status, answer.error);
  }
  return { data: answer.data as T, response: answer.response };
}

/** A fresh key for an `Idempotency-Key` header (one per user action, reused on retry). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
