import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { AgentsModule } from '../agents/agents.module';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AuthController } from './auth.controller';
import { SessionsController } from './sessions.controller';
import { AuthGuard } from './auth.guard';
import { AuthService, JWT_KEY_RING } from './auth.service';
import { JwtKeyRing } from './jwt-keys';
import { RevocationPruner } from './revocation-pruner';
import { SessionCache } from './session-cache';
import { SessionsRepository } from './sessions.repository';

@Module({
  imports: [JwtModule.register({}), AgentsModule],
  controllers: [AuthController, SessionsController],
  providers: [
    {
      provide: JWT_KEY_RING,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        if (!config.jwt.secret) throw new Error('JWT_SECRET was not resolved before start-up');
        return new JwtKeyRing(config.jwt.secret, config.jwt.oldSecret);
      },
    },
    SessionsRepository,
    SessionCache,
    RevocationPruner,
    AuthService,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [AuthService, SessionsRepository],
})
export class AuthModule {}
