import { HttpException, HttpStatus } from '@nestjs/common';

/** Every 4xx of this service has this body: a stable machine code, a sentence for people, optional details. */
export class ApiError extends HttpException {
  constructor(status: HttpStatus, code: string, message: string, details?: Record<string, unknown>) {
    super({ error: code, message, ...(details ? { details } : {}) }, status);
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new ApiError(HttpStatus.BAD_REQUEST, code, message, details);
export const notFound = (what: string, id: string) =>
  new ApiError(HttpStatus.NOT_FOUND, 'not_found', `${what} ${id} not found`);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new ApiError(HttpStatus.CONFLICT, code, message, details);
