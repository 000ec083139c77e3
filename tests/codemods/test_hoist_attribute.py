"""hoist-attribute: module attribute lookups move out of loops only when provably stable."""

from __future__ import annotations

from libcst.codemod import Codemod

from methods.codemods.rules.hoist_attribute import HoistAttribute
from tests.codemods.support import RuleTest, assert_same_behaviour


class TestHoistAttribute(RuleTest):
    TRANSFORM: type[Codemod] = HoistAttribute

    def test_hoists_before_the_outermost_loop(self) -> None:
        before = """
            import math
            import os.path as osp

            def f(rows, root):
                total = 0.0

                # walk the grid
                for row in rows:
                    for x in row:
                        total += math.sqrt(x)
                        if x:
                            total += math.sqrt(-x if x < 0 else x)
                    print(osp.join(root, str(total)))
                return total
        """
        after = """
            import math
            import os.path as osp

            def f(rows, root):
                total = 0.0

                # walk the grid
                math_sqrt = math.sqrt
                osp_join = osp.join
                for row in rows:
                    for x in row:
                        total += math_sqrt(x)
                        if x:
                            total += math_sqrt(-x if x < 0 else x)
                    print(osp_join(root, str(total)))
                return total
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_constants_and_imported_submodules(self) -> None:
        before = """
            import os.path
            import zlib

            def f(chunks):
                for chunk in chunks:
                    print(zlib.MAX_WBITS, os.path.sep, os.sep, zlib.crc32)
        """
        after = """
            import os.path
            import zlib

            def f(chunks):
                zlib_MAX_WBITS = zlib.MAX_WBITS
                os_path = os.path
                for chunk in chunks:
                    print(zlib_MAX_WBITS, os_path.sep, os.sep, zlib.crc32)
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_while_tests_and_dotted_imports(self) -> None:
        before = """
            import os.path
            import time

            def f(deadline, paths):
                while time.monotonic() < deadline:
                    paths = [os.path.basename(p) for p in paths]
                return paths
        """
        after = """
            import os.path
            import time

            def f(deadline, paths):
                time_monotonic = time.monotonic
                os_path = os.path
                while time_monotonic() < deadline:
                    paths = [os_path.basename(p) for p in paths]
                return paths
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_guards_around_the_whole_loop_do_not_matter(self) -> None:
        before = """
            import math

            def f(xs, flag):
                if flag:
                    try:
                        for x in xs:
                            print(math.sqrt(x))
                    except ValueError:
                        pass
        """
        after = """
            import math

            def f(xs, flag):
                if flag:
                    try:
                        math_sqrt = math.sqrt
                        for x in xs:
                            print(math_sqrt(x))
                    except ValueError:
                        pass
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_the_fresh_name_is_unique(self) -> None:
        before = """
            import math

            math_floor = 3

            def f(xs):
                math_floor_2 = 1
                for x in xs:
                    print(math.floor(x) + math_floor_2 + len)
        """
        after = """
            import math

            math_floor = 3

            def f(xs):
                math_floor_2 = 1
                math_floor_3 = math.floor
                for x in xs:
                    print(math_floor_3(x) + math_floor_2 + len)
        """
        self.assertCodemod(before, after, target_qualname="f")

    def test_refuses_guarded_or_unrepeated_accesses(self) -> None:
        before = """
            import math
            import os
            import sys

            def only_under_if(xs):
                for x in xs:
                    if x > 0:
                        print(math.sqrt(x))

            def only_in_try(xs):
                for x in xs:
                    try:
                        os.sched_yield()
                    except AttributeError:
                        pass

            def short_circuit(xs):
                for x in xs:
                    print(x and math.sqrt(x))

            def only_in_header(xs):
                for x in math.prod(xs):
                    print(x)

            def in_else(xs):
                for x in xs:
                    pass
                else:
                    print(math.e)

            def in_a_lambda(xs):
                for x in xs:
                    xs = sorted(xs, key=lambda v: math.fabs(v))

            def outside_loops(x):
                return math.sqrt(x)

            def stores(xs):
                for x in xs:
                    math.tau = x

            def module_variable(xs):
                for x in xs:
                    sys.stdout.write(x)
                    print(math.pi)
        """
        names = "only_under_if only_in_try short_circuit only_in_header in_else in_a_lambda"
        self.assertUnchanged(before, *names.split(), "outside_loops", "stores", "module_variable")

    def test_refuses_modules_that_may_change(self) -> None:
        cases = {
            "rebound": "import math\n\nmath = None\n",
            "in_try": "try:\n    import math\nexcept ImportError:\n    math = None\n",
            "deleted": "import math\n\ndel math\n",
            "patched": "import math\n\nmath.sqrt = abs\n",
            "probed": "import math\n\nHAS = hasattr(math, 'sqrt')\n",
            "from_import": "from os import path as math\n",
            "star": "import math\nfrom somewhere import *\n",
            "global_rebind": "import math\n\ndef reset():\n    global math\n    math = None\n",
        }
        loop = "\ndef f(xs):\n    for x in xs:\n        print(math.sqrt(x))\n"
        for name, prelude in cases.items():
            with self.subTest(name):
                self.assertCodemod(prelude + loop, prelude + loop, target_qualname="f")

    def test_refuses_functions_that_inspect_their_locals(self) -> None:
        before = """
            import math

            def f(xs):
                for x in xs:
                    print(math.sqrt(x))
                return vars()
        """
        self.assertCodemod(before, before, target_qualname="f")

    def test_refuses_a_local_shadow(self) -> None:
        before = """
            import math

            def local_import(xs):
                import math
                for x in xs:
                    print(math.sqrt(x))

            def parameter(xs, math):
                for x in xs:
                    print(math.sqrt(x))
        """
        self.assertUnchanged(before, "local_import", "parameter")

    def test_only_the_target_function_changes(self) -> None:
        before = """
            import math

            def f(xs):
                for x in xs:
                    print(math.sqrt(x))

            class C:
                def f(self, xs):
                    def inner():
                        for x in xs:
                            print(math.sqrt(x))
                    return inner
        """
        after = """
            import math

            def f(xs):
                for x in xs:
                    print(math.sqrt(x))

            class C:
                def f(self, xs):
                    def inner():
                        math_sqrt = math.sqrt
                        for x in xs:
                            print(math_sqrt(x))
                    return inner
        """
        self.assertCodemod(before, after, target_qualname="C.f")

    def test_behaviour_is_unchanged(self) -> None:
        source = """
            import math

            def norms(rows, scale):
                out = []
                i = 0
                while i < len(rows):
                    row = rows[i]
                    out.append(math.sqrt(sum(v * v for v in row)) * scale)
                    i += 1
                return out
        """
        inputs = [([], 1.0), ([[3, 4], [1, 1]], 2.0), ([[-1]], 1), ([["a"]], 1), (None, 1)]
        after = assert_same_behaviour(HoistAttribute, source, "norms", inputs)
        self.assertIn("math_sqrt = math.sqrt", after)
