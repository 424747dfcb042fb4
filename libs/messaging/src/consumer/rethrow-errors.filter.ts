import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

/**
 * Nest's default RPC filter replaces any handler error with a generic "Internal server error" object. The
 * consumer transport needs the real error: to classify it (database down or bad message) and to name it in
 * the dead-letter headers.
 */
@Catch()
export class RethrowErrorsFilter implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
