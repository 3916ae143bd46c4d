export * from './gsm.module';
