import { pipe } from 'fp-ts/lib/function.js';
import { describe, expect, it } from 'vitest';
import { frontEnd, irProblems, lower, printIR, runPipeline, summarize, trace, verifyIR, IRError } from '../../compiler/index.ts';
import type { IR } from '../../compiler/ir.ts';
import { dense, input, kwta, readModelFile, softmaxCrossEntropy, sparse } from '../../dsl/index.ts';

const model = (name: string) => readModelFile(`examples/models/${name}.json`);

describe('compiler front end', () => {
  it('runs the named passes in order and verifies at entry and exit', () => {
    expect(frontEnd.map((p) => p.name)).toEqual(['inferShapes', 'validate', 'accountParams']);
    const lowered = lower(trace(model('sparse-mlp')));
    expect(lowered.passes).toEqual(['inferShapes', 'validate', 'accountParams']);
    expect(irProblems(lowered.ir, { requireShapes: true })).toEqual([]);
    // verifying after every pass gives the same result
    expect(runPipeline(trace(model('sparse-mlp')).ir, frontEnd, { verifyEach: true })).toEqual(lowered.ir);
  });

  it('passes are pure: the traced IR is not changed by lowering', () => {
    const traced = trace(model('sparse-cnn2'));
    const before = JSON.stringify(traced.ir);
    lower(traced);
    expect(JSON.stringify(traced.ir)).toBe(before);
    expect(traced.ir.ops.filter((o) => o.batched && o.op !== 'input').every((o) => o.shape === undefined)).toBe(true);
  });

  it('the verifier names broken invariants', () => {
    const ir = trace(model('dense-mlp')).ir;
    const broken: IR = { ...ir, ops: ir.ops.map((o) => (o.op === 'dense' ? { ...o, inputs: [o.id + 1, ...o.inputs.slice(1)] } : o)) };
    expect(() => verifyIR(broken, 'in a test')).toThrow(IRError);
    expect(irProblems(broken)[0]).toMatch(/^%3 dense: input %4 is not defined before it$/);
    const badAttr: IR = { ...ir, ops: ir.ops.map((o) => (o.op === 'dense' ? { ...o, attrs: { ...o.attrs, units: 1.5 } } : o)) };
    expect(irProblems(badAttr)).toContain('%3 dense: attribute units must be int, got 1.5');
    const unknownAttr: IR = { ...ir, ops: ir.ops.map((o) => (o.op === 'relu' ? { ...o, attrs: { label: 'x' } } : o)) };
    expect(irProblems(unknownAttr)).toContain('%4 relu: unknown attribute label');
    expect(irProblems({ ...ir, output: 99 })).toContain('output %99 is not defined');
  });

  it('validate catches parameters whose shape disagrees with their consumer', () => {
    const ir = trace(model('dense-mlp')).ir;
    const wrong: IR = { ...ir, ops: ir.ops.map((o) => (o.id === 1 ? { ...o, shape: [1000, 783] } : o)) };
    expect(() => runPipeline(wrong, frontEnd)).toThrow(/%3 dense: weight must have shape \[1000, 784\], got \[1000, 783\]/);
  });

  it('accounts parameters: each unit keeps round(density x fan_in) weights', () => {
    const s = summarize(lower(trace(model('sparse-cnn2'))));
    expect(s.totals).toEqual({ params: 776_606, nonzeroParams: 274_706 });
    const d = s.layers[7];
    expect(d).toMatchObject({ kind: 'dense', params: 1024 * 700 + 700, nonzeroParams: 307 * 700 + 700, weightDensity: 0.3 });
    expect(s.layers.filter((l) => l.kind === 'kwta').map((l) => [l.k, l.kInference, l.n])).toEqual([
      [400, 600, 4608],
      [300, 450, 1024],
      [100, 150, 700],
    ]);
    expect(summarize(lower(trace(model('sparse-mlp')))).totals).toEqual({ params: 1_796_010, nonzeroParams: 392 * 1000 + 1000 + 500 * 1000 + 1000 + 10_010 });
    expect(summarize(lower(trace(model('dense-cnn1')))).totals).toEqual({ params: 780 + 4320 * 1000 + 1000 + 10_010, nonzeroParams: 780 + 4_321_000 + 10_010 });
  });

  it('IR text of a small DSL network (golden)', () => {
    const net = pipe(input([6]), dense(4), sparse(0.5), kwta({ k: 2 }), dense(3), softmaxCrossEntropy);
    expect(printIR(lower(trace(net)).ir)).toMatchInlineSnapshot(`
      "%0 = input : f32[b,6]
      %1 = param {role=weight, init=uniform, bound=0.57735, layer=0} : f32[4,6] ; layer 0
      %2 = param {role=bias, init=uniform, bound=0.408248, layer=0} : f32[4] ; layer 0
      %3 = dense(%0, %1, %2) {units=4, bias=true, weightDensity=0.5, dropconnect=0, keptPerUnit=3, fanIn=6} : f32[b,4] ; layer 0, params=28, nonzeroParams=16
      %4 = state {role=dutyCycle, init=0} : f32[4] ; layer 1
      %5 = state {role=boostStrength, init=0} : f32[1] ; layer 1
      %6 = kwta(%3, %4, %5) {k=2, kInference=3, n=4, groups=1, kInferenceFactor=1.5, local=false, breakTies=false, relu=false, strengthFactor=1, dutyCyclePeriod=1000} : f32[b,4] ; layer 1
      %7 = param {role=weight, init=uniform, bound=0.5, layer=2} : f32[3,4] ; layer 2
      %8 = param {role=bias, init=uniform, bound=0.5, layer=2} : f32[3] ; layer 2
      %9 = dense(%6, %7, %8) {units=3, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=4, fanIn=4} : f32[b,3] ; layer 2, params=15, nonzeroParams=15
      %10 = softmaxCrossEntropy(%9) : f32[b,3] ; layer 3
      return %10"
    `);
  });

  it('IR text of the example networks (golden)', () => {
    expect(lower(trace(model('sparse-cnn2'))).asText()).toMatchInlineSnapshot(`
      "; stage: lowered (passes: inferShapes, validate, accountParams)
      %0 = input : f32[b,1,28,28]
      %1 = param {role=weight, init=uniform, bound=0.2, layer=0} : f32[32,1,5,5] ; layer 0
      %2 = param {role=bias, init=uniform, bound=0.2, layer=0} : f32[32] ; layer 0
      %3 = conv2d(%0, %1, %2) {filters=32, kernel=5, stride=1, padding=0, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=25, fanIn=25} : f32[b,32,24,24] ; layer 0, params=832, nonzeroParams=832
      %4 = maxPool2d(%3) {size=2} : f32[b,32,12,12] ; layer 1
      %5 = state {role=dutyCycle, init=0} : f32[32] ; layer 2
      %6 = state {role=boostStrength, init=1.5} : f32[1] ; layer 2
      %7 = kwta(%4, %5, %6) {k=400, kInference=600, n=4608, groups=1, kInferenceFactor=1.5, local=false, breakTies=false, relu=false, strengthFactor=0.85, dutyCyclePeriod=1000} : f32[b,32,12,12] ; layer 2
      %8 = param {role=weight, init=uniform, bound=0.0353553, layer=3} : f32[64,32,5,5] ; layer 3
      %9 = param {role=bias, init=uniform, bound=0.0353553, layer=3} : f32[64] ; layer 3
      %10 = conv2d(%7, %8, %9) {filters=64, kernel=5, stride=1, padding=0, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=800, fanIn=800} : f32[b,64,8,8] ; layer 3, params=51264, nonzeroParams=51264
      %11 = maxPool2d(%10) {size=2} : f32[b,64,4,4] ; layer 4
      %12 = state {role=dutyCycle, init=0} : f32[64] ; layer 5
      %13 = state {role=boostStrength, init=1.5} : f32[1] ; layer 5
      %14 = kwta(%11, %12, %13) {k=300, kInference=450, n=1024, groups=1, kInferenceFactor=1.5, local=false, breakTies=false, relu=false, strengthFactor=0.85, dutyCyclePeriod=1000} : f32[b,64,4,4] ; layer 5
      %15 = flatten(%14) : f32[b,1024] ; layer 6
      %16 = param {role=weight, init=uniform, bound=0.057073, layer=7} : f32[700,1024] ; layer 7
      %17 = param {role=bias, init=uniform, bound=0.03125, layer=7} : f32[700] ; layer 7
      %18 = dense(%15, %16, %17) {units=700, bias=true, weightDensity=0.3, dropconnect=0, keptPerUnit=307, fanIn=1024} : f32[b,700] ; layer 7, params=717500, nonzeroParams=215600
      %19 = state {role=dutyCycle, init=0} : f32[700] ; layer 8
      %20 = state {role=boostStrength, init=1.5} : f32[1] ; layer 8
      %21 = kwta(%18, %19, %20) {k=100, kInference=150, n=700, groups=1, kInferenceFactor=1.5, local=false, breakTies=false, relu=false, strengthFactor=0.85, dutyCyclePeriod=1000} : f32[b,700] ; layer 8
      %22 = param {role=weight, init=uniform, bound=0.0377964, layer=9} : f32[10,700] ; layer 9
      %23 = param {role=bias, init=uniform, bound=0.0377964, layer=9} : f32[10] ; layer 9
      %24 = dense(%21, %22, %23) {units=10, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=700, fanIn=700} : f32[b,10] ; layer 9, params=7010, nonzeroParams=7010
      %25 = softmaxCrossEntropy(%24) : f32[b,10] ; layer 10
      return %25"
    `);
    expect(lower(trace(model('dense-cnn1'))).asText()).toMatchInlineSnapshot(`
      "; stage: lowered (passes: inferShapes, validate, accountParams)
      %0 = input : f32[b,1,28,28]
      %1 = param {role=weight, init=uniform, bound=0.2, layer=0} : f32[30,1,5,5] ; layer 0
      %2 = param {role=bias, init=uniform, bound=0.2, layer=0} : f32[30] ; layer 0
      %3 = conv2d(%0, %1, %2) {filters=30, kernel=5, stride=1, padding=0, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=25, fanIn=25} : f32[b,30,24,24] ; layer 0, params=780, nonzeroParams=780
      %4 = maxPool2d(%3) {size=2} : f32[b,30,12,12] ; layer 1
      %5 = relu(%4) : f32[b,30,12,12] ; layer 2
      %6 = flatten(%5) : f32[b,4320] ; layer 3
      %7 = param {role=weight, init=uniform, bound=0.0152145, layer=4} : f32[1000,4320] ; layer 4
      %8 = param {role=bias, init=uniform, bound=0.0152145, layer=4} : f32[1000] ; layer 4
      %9 = dense(%6, %7, %8) {units=1000, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=4320, fanIn=4320} : f32[b,1000] ; layer 4, params=4321000, nonzeroParams=4321000
      %10 = relu(%9) : f32[b,1000] ; layer 5
      %11 = param {role=weight, init=uniform, bound=0.0316228, layer=6} : f32[10,1000] ; layer 6
      %12 = param {role=bias, init=uniform, bound=0.0316228, layer=6} : f32[10] ; layer 6
      %13 = dense(%10, %11, %12) {units=10, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=1000, fanIn=1000} : f32[b,10] ; layer 6, params=10010, nonzeroParams=10010
      %14 = softmaxCrossEntropy(%13) : f32[b,10] ; layer 7
      return %14"
    `);
    expect(lower(trace(model('sparse-mlp'))).asText()).toMatchInlineSnapshot(`
      "; stage: lowered (passes: inferShapes, validate, accountParams)
      %0 = input : f32[b,784]
      %1 = param {role=weight, init=uniform, bound=0.0505076, layer=0} : f32[1000,784] ; layer 0
      %2 = param {role=bias, init=uniform, bound=0.0357143, layer=0} : f32[1000] ; layer 0
      %3 = dense(%0, %1, %2) {units=1000, bias=true, weightDensity=0.5, dropconnect=0, keptPerUnit=392, fanIn=784} : f32[b,1000] ; layer 0, params=785000, nonzeroParams=393000
      %4 = state {role=dutyCycle, init=0} : f32[1000] ; layer 1
      %5 = state {role=boostStrength, init=1.5} : f32[1] ; layer 1
      %6 = kwta(%3, %4, %5) {k=100, kInference=150, n=1000, groups=1, kInferenceFactor=1.5, local=false, breakTies=false, relu=false, strengthFactor=0.85, dutyCyclePeriod=1000} : f32[b,1000] ; layer 1
      %7 = param {role=weight, init=uniform, bound=0.0447214, layer=2} : f32[1000,1000] ; layer 2
      %8 = param {role=bias, init=uniform, bound=0.0316228, layer=2} : f32[1000] ; layer 2
      %9 = dense(%6, %7, %8) {units=1000, bias=true, weightDensity=0.5, dropconnect=0, keptPerUnit=500, fanIn=1000} : f32[b,1000] ; layer 2, params=1001000, nonzeroParams=501000
      %10 = state {role=dutyCycle, init=0} : f32[1000] ; layer 3
      %11 = state {role=boostStrength, init=1.5} : f32[1] ; layer 3
      %12 = kwta(%9, %10, %11) {k=100, kInference=150, n=1000, groups=1, kInferenceFactor=1.5, local=false, breakTies=false, relu=false, strengthFactor=0.85, dutyCyclePeriod=1000} : f32[b,1000] ; layer 3
      %13 = param {role=weight, init=uniform, bound=0.0316228, layer=4} : f32[10,1000] ; layer 4
      %14 = param {role=bias, init=uniform, bound=0.0316228, layer=4} : f32[10] ; layer 4
      %15 = dense(%12, %13, %14) {units=10, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=1000, fanIn=1000} : f32[b,10] ; layer 4, params=10010, nonzeroParams=10010
      %16 = softmaxCrossEntropy(%15) : f32[b,10] ; layer 5
      return %16"
    `);
    expect(lower(trace(model('dropout-mlp'))).asText()).toMatchInlineSnapshot(`
      "; stage: lowered (passes: inferShapes, validate, accountParams)
      %0 = input : f32[b,784]
      %1 = param {role=weight, init=uniform, bound=0.0357143, layer=0} : f32[1000,784] ; layer 0
      %2 = param {role=bias, init=uniform, bound=0.0357143, layer=0} : f32[1000] ; layer 0
      %3 = dense(%0, %1, %2) {units=1000, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=784, fanIn=784} : f32[b,1000] ; layer 0, params=785000, nonzeroParams=785000
      %4 = relu(%3) : f32[b,1000] ; layer 1
      %5 = dropout(%4) {rate=0.5} : f32[b,1000] ; layer 2
      %6 = param {role=weight, init=uniform, bound=0.0316228, layer=3} : f32[1000,1000] ; layer 3
      %7 = param {role=bias, init=uniform, bound=0.0316228, layer=3} : f32[1000] ; layer 3
      %8 = dense(%5, %6, %7) {units=1000, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=1000, fanIn=1000} : f32[b,1000] ; layer 3, params=1001000, nonzeroParams=1001000
      %9 = relu(%8) : f32[b,1000] ; layer 4
      %10 = dropout(%9) {rate=0.5} : f32[b,1000] ; layer 5
      %11 = param {role=weight, init=uniform, bound=0.0316228, layer=6} : f32[10,1000] ; layer 6
      %12 = param {role=bias, init=uniform, bound=0.0316228, layer=6} : f32[10] ; layer 6
      %13 = dense(%10, %11, %12) {units=10, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=1000, fanIn=1000} : f32[b,10] ; layer 6, params=10010, nonzeroParams=10010
      %14 = softmaxCrossEntropy(%13) : f32[b,10] ; layer 7
      return %14"
    `);
  });

  it('every example model compiles through the front end', () => {
    for (const name of ['dense-cnn1', 'dense-cnn2', 'sparse-cnn1', 'sparse-cnn2', 'dense-mlp', 'dropout-mlp', 'sparse-mlp']) {
      expect(() => lower(trace(model(name)))).not.toThrow();
    }
  });
});
