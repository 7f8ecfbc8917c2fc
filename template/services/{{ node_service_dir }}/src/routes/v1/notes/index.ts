import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { NoteCreate, NoteParams, NotePublic, NotesPublic, NotesQuery, Problem } from '#contracts';
import { HttpProblem } from '../../../errors.ts';

const notesRoutes: FastifyPluginAsyncZod = async (fastify) => {
  fastify.post(
    '/',
    {
      schema: {
        tags: ['notes'],
        operationId: 'createNote',
        summary: 'Create a note',
        body: NoteCreate,
        response: { 201: NotePublic, 400: Problem, 409: Problem, 413: Problem },
      },
    },
    async (request, reply) => {
      const note = await fastify.notesRepository.create(request.body);
      return reply.code(201).header('location', `/v1/notes/${note.id}`).send(note);
    },
  );

  fastify.get(
    '/',
    {
      schema: {
        tags: ['notes'],
        operationId: 'listNotes',
        summary: 'List notes, newest first',
        querystring: NotesQuery,
        response: { 200: NotesPublic, 400: Problem },
      },
    },
    async (request) => fastify.notesRepository.list(request.query),
  );

  fastify.get(
    '/:id',
    {
      schema: {
        tags: ['notes'],
        operationId: 'readNote',
        summary: 'Read a note',
        params: NoteParams,
        response: { 200: NotePublic, 400: Problem, 404: Problem },
      },
    },
    async (request) => {
      const note = await fastify.notesRepository.get(request.params.id);
      if (!note) throw new HttpProblem(404, `Note ${request.params.id} does not exist.`);
      return note;
    },
  );
};

export default notesRoutes;
