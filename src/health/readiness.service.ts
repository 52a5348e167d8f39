import { Injectable } from '@nestjs/common';

/** Flipped at the start of a graceful shutdown so load balancers stop sending traffic at once. */
@Injectable()
export class ReadinessState {
  private draining = false;

  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }
}
