import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options';
import { runMigrationsLocked } from './migrate';

/** PostgreSQL through TypeORM; pending migrations run (one node at a time) before the app serves anything. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        if (!config.databaseUrl) throw new Error('database URL was not resolved before start-up');
        return {
          ...dataSourceOptions(config.databaseUrl),
          // Query errors reach the exception filters (and pino, redacted); TypeORM would print parameters.
          logging: config.logLevel === 'silent' ? false : ['migration'],
          retryAttempts: 3,
          retryDelay: 1000,
        };
      },
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        await runMigrationsLocked(dataSource);
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
