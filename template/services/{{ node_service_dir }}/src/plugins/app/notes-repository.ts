import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { NoteCreate, NotePublic, NotesPublic, NotesQuery } from '#contracts';

/** Where notes are kept. The in-memory one below is the example; a database one has this shape. */
export interface NotesRepository {
  create(note: NoteCreate): Promise<NotePublic>;
  get(id: string): Promise<NotePublic | undefined>;
  list(query: NotesQuery): Promise<NotesPublic>;
}

declare module 'fastify' {
  interface FastifyInstance {
    notesRepository: NotesRepository;
  }
}

export function createInMemoryNotesRepository(): NotesRepository {
  const notes = new Map<string, NotePublic>();
  return {
    async create(note) {
      const created = { id: randomUUID(), ...note, createdAt: new Date().toISOString() };
      notes.set(created.id, created);
      return created;
    },
    async get(id) {
      return notes.get(id);
    },
    async list({ limit, offset, tag }) {
      const matching = [...notes.values()]
        .filter((note) => tag === undefined || note.tags.includes(tag))
        .reverse();
      return { items: matching.slice(offset, offset + limit), total: matching.length };
    },
  };
}

export default fp(
  async (fastify) => {
    fastify.decorate('notesRepository', createInMemoryNotesRepository());
  },
  { name: 'notes-repository' },
);
