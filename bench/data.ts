/** The benchmark's input data: see runtime/bench-data.ts (shared with `winnow bench`). */
export { benchData, type BenchData } from '../runtime/bench-data.ts';
