"""Demos run in a process of their own: results come back, bad input is refused, a crash is survived."""

import asyncio

import pytest

from app.runs.demo_process import DemoInputRefused, DemoProcess


def test_a_demo_runs_in_its_own_process_and_refuses_bad_input():
    async def scenario():
        demos = DemoProcess()
        try:
            result = await demos.run("squared_loss", {"y_hat": "2.33 1.07 1.23", "y": "3.14 0.98 1.32"})
            with pytest.raises(DemoInputRefused):
                await demos.run("squared_loss", {"y_hat": "1 a", "y": "1 2"})
            demos._process.kill()  # a dead demo process is replaced on the next call
            demos._process.join()
            again = await demos.run("data_iter", {"n": 20, "batch_size": 4})
            return result, again
        finally:
            demos.close()

    result, again = asyncio.run(scenario())
    assert "0.112" in str(result)
    assert "16" in str(again)
