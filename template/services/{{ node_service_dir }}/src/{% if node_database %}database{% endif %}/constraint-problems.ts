import { DatabaseError } from 'pg';
import { HttpProblem } from '../errors.ts';

// SQLSTATE codes of the constraints a request can break.
// @see https://www.postgresql.org/docs/current/errcodes-appendix.html
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const CHECK_VIOLATION = '23514';
// Class 22, data exceptions: a value the column cannot hold (a NUL character in text, a number out
// of range), which validation let through.
const DATA_EXCEPTION_CLASS = '22';

/**
 * Rethrow a broken constraint as the client's problem, not a 500: a duplicate is a 409, a value a
 * check or a foreign key refuses, or the column cannot hold, is a 422. `details` gives the answer per constraint name, so the
 * database's own message (table and column names) never reaches the client. Other errors pass.
 *
 * @example await db.insertInto('notes').values(note).execute().catch((error) =>
 *   rethrowConstraintProblem(error, { notes_title_key: 'A note with that title already exists.' }))
 */
export function rethrowConstraintProblem(
  error: unknown,
  details: Record<string, string> = {},
): never {
  if (error instanceof DatabaseError) {
    const detail = error.constraint === undefined ? undefined : details[error.constraint];
    if (error.code === UNIQUE_VIOLATION) {
      throw new HttpProblem(409, detail ?? 'It conflicts with an existing record.', {
        cause: error,
      });
    }
    if (error.code === CHECK_VIOLATION || error.code === FOREIGN_KEY_VIOLATION) {
      throw new HttpProblem(422, detail ?? 'It breaks a rule of the data model.', {
        cause: error,
      });
    }
    if (error.code?.startsWith(DATA_EXCEPTION_CLASS)) {
      throw new HttpProblem(422, 'A value cannot be stored as given.', { cause: error });
    }
  }
  throw error;
}
