import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpressionError } from '../../src/workflow/expr/depends.js';
import { evaluate, expandEnv } from '../../src/workflow/expr/lang/evaluate.js';
import { goDate } from '../../src/workflow/expr/lang/functions.js';
import { parseExpr } from '../../src/workflow/expr/lang/parse.js';
import { evalWhen } from '../../src/workflow/expr/when.js';
import {
  ExpressionTagError,
  references,
  substitute,
  UnresolvedVariable,
} from '../../src/workflow/expr/template.js';

const scope = new Map<string, string>([
  ['inputs.parameters.foo', '3'],
  ['inputs.parameters.should-print', 'true'],
  ['inputs.parameters', '[{"name":"foo","value":"3"}]'],
  ['workflow.name', 'wf-abc'],
  ['workflow.parameters.json', '[{"name":"x","value":"true"}]'],
  ['workflow.parameters.config', '{"a":"1","employees":[{"name":"Baris","age":43},{"name":"Mo","age":25}]}'],
  ['workflow.creationTimestamp', '2026-12-02T07:22:37Z'],
  ['steps.producer.outputs.parameters.msg', ''],
  ['item', '1'],
]);
const env = expandEnv(scope);
const ev = (text: string) => evaluate(text, env);

describe("Argo's expression tags (expr-lang)", () => {
  it('evaluates arithmetic with expr-lang precedence and number types', { timeout: 10_000 }, () => {
    assert.equal(ev('1 + 2 * 3'), 7);
    assert.equal(ev('(1 + 2) * 3'), 9);
    assert.equal(ev('7 / 2'), 3.5);
    assert.equal(ev('7 % 4'), 3);
    assert.equal(ev('2 ** 3 ** 2'), 512);
    assert.equal(ev('-2 + 5'), 3);
    assert.equal(ev("'a' + 'b'"), 'ab');
    assert.deepEqual(ev('1..3'), [1, 2, 3]);
  });

  it('compares by type and value, and needs booleans for && and ||', { timeout: 10_000 }, () => {
    assert.equal(ev("'1' == 1"), false);
    assert.equal(ev('1 == 1.0'), true);
    assert.equal(ev("inputs.parameters['should-print'] == 'true'"), true);
    assert.equal(ev('3 > 2 && 2 > 1 || false'), true);
    assert.equal(ev('not (1 > 2) and true'), true);
    assert.equal(ev("'abc' matches '^a.c$'"), true);
    assert.equal(ev("'abc' startsWith 'ab' && 'abc' endsWith 'bc' && 'abc' contains 'b'"), true);
    assert.equal(ev('2 in [1, 2]'), true);
    assert.equal(ev("'x' not in {x: 1}"), false);
    assert.equal(ev('1 > 2 ? "yes" : "no"'), 'no');
    assert.throws(() => ev("'a' && true"), ExpressionError);
    assert.throws(() => ev("1 + 'a'"), /invalid operation: int \+ string/);
  });

  it('reads variables as nested maps, with brackets for names holding dashes', { timeout: 10_000 }, () => {
    assert.equal(ev('asInt(inputs.parameters.foo) * 10'), 30);
    assert.equal(ev('asFloat(inputs.parameters.foo) / 2'), 1.5);
    assert.equal(ev('workflow.name'), 'wf-abc');
    assert.equal(ev("steps.producer.outputs.parameters.msg == ''"), true);
    assert.equal(ev("steps.missing?.outputs ?? 'fallback'"), 'fallback');
    assert.equal(ev("steps.nothing.outputs.parameters.msg ?? 'fallback'"), 'fallback');
    assert.throws(() => ev('inputs.parameters.nope'), /unknown name inputs\.parameters\.nope/);
  });

  it('filters and maps with closures over #, and converts to JSON', { timeout: 10_000 }, () => {
    assert.equal(ev('toJson(filter([1, 3], {# > 1}))'), '[3]');
    assert.deepEqual(ev('map([1, 2], { # * 2 })'), [2, 4]);
    assert.deepEqual(ev('map([{n: 1}, {n: 2}], {.n})'), [1, 2]);
    assert.equal(
      ev('all([1, 2], {# > 0}) && none([1, 2], {# > 5}) && count([1, 2, 3], {# >= 2}) == 2'),
      true,
    );
    assert.equal(ev('len("héllo") + len([1]) + len({a: 1})'), 7);
    assert.equal(ev('string(1.5) + upper("x")'), '1.5X');
    assert.deepEqual(ev('fromJson(\'{"a":[1]}\').a'), [1]);
    assert.deepEqual(ev('[1, 2, 3][1:]'), [2, 3]);
  });

  it('reads JSON with jsonpath, filters included', { timeout: 10_000 }, () => {
    assert.equal(ev("jsonpath(workflow.parameters.config, '$.a')"), '1');
    assert.deepEqual(ev(`jsonpath(workflow.parameters.config, '$.employees[?(@.name=="Baris")].age')`), [43]);
    assert.deepEqual(
      ev("jsonpath(workflow.parameters.config, '$.employees[?(@.age>42 && @.age<44)].age')"),
      [43],
    );
    assert.deepEqual(ev("jsonpath(workflow.parameters.config, '$.employees[0:1]')"), [
      { name: 'Baris', age: 43 },
    ]);
    assert.deepEqual(ev("jsonpath(workflow.parameters.config, '$.employees[*].name')"), ['Baris', 'Mo']);
    assert.deepEqual(ev("jsonpath(workflow.parameters.config, '$..age')"), [43, 25]);
    assert.equal(ev("jsonpath(workflow.parameters.json, '$[0].value') == 'true'"), true);
    assert.throws(() => ev("jsonpath('not json', '$.a')"), /not JSON/);
  });

  it('offers the common sprig functions with their argument order', { timeout: 10_000 }, () => {
    assert.equal(ev("sprig.trim('  x ')"), 'x');
    assert.equal(ev("sprig.replace('a', 'b', 'banana')"), 'bbnbnb');
    assert.equal(ev('sprig.add(1, 2, 3) / 2'), 3);
    assert.equal(ev('sprig.max(1, 5, 3) - sprig.min(4, 2)'), 3);
    assert.equal(ev("sprig.b64dec(sprig.b64enc('hi'))"), 'hi');
    assert.equal(ev("sprig.int('nope')"), 0);
    assert.equal(ev("sprig.default('d', '')"), 'd');
    assert.equal(ev("sprig.date('2006', workflow.creationTimestamp)"), '2026');
    assert.equal(
      goDate('2006-01-02 15:04:05 Mon Jan', '2026-12-02T07:22:37Z'),
      '2026-12-02 07:22:37 Wed Dec',
    );
  });

  it('refuses what is not an expression, naming the problem', { timeout: 10_000 }, () => {
    assert.throws(() => parseExpr('1 +'), /ends too early/);
    assert.throws(() => parseExpr('(1'), /expected "\)"/);
    assert.throws(() => parseExpr('a ; b'), /unexpected "; b"/);
    assert.throws(() => ev('{# > 1}'), /closure/);
    assert.throws(() => ev('sprig.constructor'), /unknown name/);
    assert.throws(() => ev('nope(1)'), /unknown name nope/);
  });

  it(
    'substitutes expression tags beside simple tags, strings as they are and the rest as JSON',
    { timeout: 10_000 },
    () => {
      assert.equal(
        substitute('hello {{=asInt(inputs.parameters.foo) * 10}} from {{workflow.name}}', scope),
        'hello 30 from wf-abc',
      );
      assert.equal(substitute('{{=toJson(filter([1, 3], {# > 1}))}}', scope), '[3]');
      assert.equal(substitute('{{= [1, 2] }}', scope), '[1,2]');
      assert.equal(substitute('{{=item}}', scope), '1');
      assert.deepEqual(references('a {{ x.y }} b {{=1 + {a: 1}.a}}'), ['x.y', '=1 + {a: 1}.a']);
      assert.throws(() => substitute('{{=inputs.parameters.nope}}', scope), UnresolvedVariable);
      assert.throws(() => substitute('{{=1 +}}', scope), ExpressionTagError);
      assert.throws(() => substitute('{{=nil}}', scope), /evaluates to nil/);
    },
  );

  it('matches regular expressions in when conditions with =~ and !~', { timeout: 10_000 }, () => {
    assert.equal(evalWhen('heads =~ hea'), true);
    assert.equal(evalWhen('tails =~ hea'), false);
    assert.equal(evalWhen("tails !~ '^h' && 3 > 2"), true);
    assert.equal(evalWhen(substitute("{{=inputs.parameters['should-print'] == 'true'}}", scope)), true);
    assert.throws(() => evalWhen("x =~ '['"), /not a regular expression/);
  });
});
