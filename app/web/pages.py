"""Every HTML page router in one: the playgrounds (play.py) and the runs pages (run_pages.py).

Routes return HTML; htmx swaps fragments; the browser's JavaScript only draws charts and pictures.
"""

from fastapi import APIRouter

from . import play, run_pages

router = APIRouter(include_in_schema=False)
router.include_router(play.router)
router.include_router(run_pages.router)
