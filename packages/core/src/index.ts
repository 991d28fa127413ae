export * from './model';
export * from './ports';
export * from './errors';
export * from './service-types';
