import { DataSource } from 'typeorm';
import { dataSourceOptions } from './src/database/data-source-options';

/** DataSource for the TypeORM CLI: `npm run migration:run|revert|generate` against DATABASE_URL. */
const url = process.env.DATABASE_URL;
if (!url) {
  throw new Error('DATABASE_URL must be set for the TypeORM CLI (the app itself can run embedded)');
}
export default new DataSource(dataSourceOptions(url));
