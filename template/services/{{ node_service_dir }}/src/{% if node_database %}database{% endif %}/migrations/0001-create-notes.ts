import { type Kysely, sql } from 'kysely';

// Migrations take an untyped Kysely: they run against the schema as it was when they were
// written, which the Database interface (the latest schema) no longer describes.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('notes')
    .addColumn('id', 'uuid', (column) => column.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('title', 'text', (column) => column.notNull())
    .addColumn('body', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('tags', sql`text[]`, (column) => column.notNull().defaultTo(sql`'{}'`))
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    // The API validates the same bounds; the database holds them for every other writer too.
    .addCheckConstraint('notes_title_length', sql`char_length(title) between 1 and 200`)
    .execute();
  // Titles are unique ignoring case, which only an index on an expression can say.
  await db.schema
    .createIndex('notes_title_key')
    .on('notes')
    .unique()
    .expression(sql`lower(title)`)
    .execute();
  // The list: newest first, and filtered by tag (`tags @> array[...]` uses a GIN index).
  await db.schema
    .createIndex('notes_created_at_idx')
    .on('notes')
    .columns(['created_at desc', 'id desc'])
    .execute();
  await db.schema.createIndex('notes_tags_idx').on('notes').using('gin').column('tags').execute();
}
