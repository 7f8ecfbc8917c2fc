import { z } from 'zod';

const Tag = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z0-9-]+$/, 'Use lowercase letters, digits and dashes');

// What a client sends to create a note. Strict: unknown fields are rejected, not dropped.
export const NoteCreate = z
  .strictObject({
    title: z.string().trim().min(1).max(200).describe('Unique among the notes, ignoring case'),
    body: z.string().max(10_000).default(''),
    tags: z.array(Tag).max(10).default([]),
  })
  .meta({ id: 'NoteCreate' });
// The parsed body (defaults filled in); a client building one can use `z.input<typeof NoteCreate>`.
export type NoteCreate = z.infer<typeof NoteCreate>;

// A note as the API returns it.
export const NotePublic = z
  .object({
    id: z.uuid(),
    title: z.string(),
    body: z.string(),
    tags: z.array(z.string()),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'NotePublic' });
export type NotePublic = z.infer<typeof NotePublic>;

// One page of notes, newest first.
export const NotesPublic = z
  .object({
    items: z.array(NotePublic),
    total: z.int().nonnegative(),
  })
  .meta({ id: 'NotesPublic' });
export type NotesPublic = z.infer<typeof NotesPublic>;

// Query string of the list route.
export const NotesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  // Past a million rows OFFSET scans them all: page by a cursor instead.
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  tag: Tag.optional(),
});
export type NotesQuery = z.infer<typeof NotesQuery>;

// Path parameters of the routes that address one note.
export const NoteParams = z.strictObject({ id: z.uuid() });
export type NoteParams = z.infer<typeof NoteParams>;
