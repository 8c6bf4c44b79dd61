"""The main window with the real engine bridge on tiny generated clips."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _ui_helpers import FRAMES
from _ui_helpers import discard as _discard
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QMessageBox

from engine.media import open_reader, probe
from engine.media.levels import frame_levels
from engine.project import Clip, Project, Recipe, Shot, Step, save_project
from engine.synth.clip_file import write_frames
from ui.document import Document, Target
from ui.main_window import MainWindow
from ui.render_queue import RenderRequest


def _close(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    _discard(window)
    window.close()


@pytest.fixture
def window(qtbot, settings: QSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=_discard)
    win.show()
    yield win
    _close(win, monkeypatch)


def _settled(window: MainWindow, qtbot, index: int = 0) -> None:
    """Wait until the viewer shows frame `index` and the engine has nothing left to do."""
    qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05)
                    and not window._preview_timer.isActive()
                    and window.viewer.shown_index == index, timeout=20_000)


def _mean_level(image: QImage) -> float:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    data = np.frombuffer(ptr, np.uint8, image.sizeInBytes())
    return float(data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].mean())


def _project_file(clip: Path, tmp_path: Path) -> Path:
    shots = [Shot(0, 3), Shot(4, 7, Recipe.of([Step.create("sharpen")])), Shot(8, FRAMES - 1)]
    project = Project(clips=[Clip(str(clip), FRAMES, shots)])
    return save_project(project, tmp_path / "film.nitrate")


def test_empty_window_offers_open_footage(window: MainWindow) -> None:
    assert window.stack.currentWidget() is window.empty_page
    assert window.open_button.text() == "Open footage…"
    assert not window.act_save.isEnabled()
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Clip", "Render", "Help"]


def test_open_project_puts_its_shots_on_the_timeline(qtbot, window: MainWindow, clip: Path,
                                                     tmp_path: Path) -> None:
    assert window.open_path(_project_file(clip, tmp_path))
    _settled(window, qtbot)
    assert window.stack.currentWidget() is window.viewer
    assert window.timeline.shots == [(0, 3), (4, 7), (8, FRAMES - 1)]
    assert "film.nitrate" in window.windowTitle()
    assert "frame 0" in window.frame_label.text()
    window.playback.seek(5)
    _settled(window, qtbot, 5)
    assert window.inspector.current_shot == 1
    assert str(tmp_path / "film.nitrate") in window.recent_files()


def test_open_a_sequence_by_its_pattern(qtbot, window: MainWindow, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.synth.index_clip import write_index_sequence

    write_index_sequence(tmp_path / "scans", "png8", frames=5)
    errors: list[str] = []
    window.show_error = lambda _title, text: errors.append(text)  # type: ignore[method-assign]
    assert window.open_path(tmp_path / "scans" / "frame_%06d.png"), errors
    _settled(window, qtbot)
    assert window.document.project_or_raise().clip.frame_count == 5
    # The export offered is named after the reel, not after its frame-number pattern
    # (which would make "frame_%06d_restored.mov" an image-sequence pattern).
    assert window.default_output() == tmp_path / "scans" / "frame_restored.mov"
    out = tmp_path / "restored.mkv"
    with qtbot.waitSignal(window.render_queue.job_finished, timeout=60_000) as blocker:
        window.queue_render(RenderRequest("clip", out, "ffv1", False))
    assert blocker.args[1].state == "done", blocker.args[1].message
    # So are the project, stills, report and shot list it offers to save.
    from PySide6.QtWidgets import QFileDialog

    offered: list[str] = []

    def ask(_parent, _title, suggestion, *_args):
        offered.append(Path(suggestion).name)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(ask))
    window.save_as()
    window.export_frame_dialog(compare=False)
    window.report_dialog()
    assert offered == ["frame.nitrate", f"frame_f{window.viewer.shown_index:06d}.png",
                       "frame_report.html"]


def test_the_shots_are_exported_as_an_edit_decision_list(qtbot, window: MainWindow,
                                                        clip: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    assert window.open_path(_project_file(clip, tmp_path))
    _settled(window, qtbot)
    path = tmp_path / "film_cuts"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *_args: (str(path), "Edit decision list (*.edl)"))
    window.act_export_edl.trigger()
    text = (tmp_path / "film_cuts.edl").read_text()
    assert text.startswith("TITLE: film\n")
    assert text.count("* FROM CLIP NAME: tiny.mp4") == 3  # the three shots of the project
    assert window.statusBar().currentMessage().startswith("3 shots written to")


def test_open_footage_detects_shots(qtbot, settings: QSettings, clip: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    win = MainWindow(settings, detect_shots=True)
    qtbot.addWidget(win, before_close_func=_discard)
    assert win.open_path(clip)
    with qtbot.waitSignal(win.detector.finished, timeout=30_000) as blocker:
        pass
    assert blocker.args[1] == ""  # no error
    assert win.document.shots()[0].start == 0 and win.document.shots()[-1].end == FRAMES - 1
    assert not win.document.is_dirty  # detection is part of opening
    # Detection measured the levels graph on its pass; the separate meter stood down.
    qtbot.waitUntil(lambda: win.timeline.levels is not None, timeout=10_000)
    assert len(win.timeline.levels) == FRAMES and not win.levels_meter.running
    _close(win, monkeypatch)


def test_the_timeline_graphs_every_frame_s_levels(qtbot, window: MainWindow, clip: Path,
                                                  tmp_path: Path) -> None:
    assert window.open_path(clip)   # no cut detection: the levels meter measures them
    qtbot.waitUntil(lambda: window.timeline.levels is not None, timeout=20_000)
    with open_reader(clip) as reader:
        expected = frame_levels(reader)
    assert np.allclose(window.timeline.levels, expected)
    # The test clip's frames differ in brightness (their index is encoded in them).
    assert np.ptp(window.timeline.levels) > 0.01
    # Another clip: the old graph goes, the new one comes.
    other = tmp_path / "other.mkv"
    write_frames(other, [np.full((48, 64, 3), v, np.float32) for v in (0.2, 0.6, 0.4)])
    assert window.open_path(other)
    qtbot.waitUntil(lambda: window.timeline.levels is not None
                    and len(window.timeline.levels) == 3, timeout=20_000)
    assert window.timeline.levels == pytest.approx([0.2, 0.6, 0.4], abs=0.005)


def test_a_measured_clip_s_levels_come_from_the_cache_next_time(
        qtbot, window: MainWindow, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.media.levels
    assert window.open_path(clip)
    qtbot.waitUntil(lambda: window.timeline.levels is not None, timeout=20_000)
    first = window.timeline.levels.copy()
    window.close_project()

    def no_pass(*_args, **_kwargs):
        raise AssertionError("the clip was measured again")

    monkeypatch.setattr(engine.media.levels, "frame_levels", no_pass)
    with qtbot.waitSignal(window.levels_meter.finished, timeout=20_000) as measured:
        assert window.open_path(clip)
    media, levels = measured.args[0]
    assert measured.args[1] == "" and media == clip and np.array_equal(levels, first)
    qtbot.waitUntil(lambda: window.viewer.shown_index == 0 and window.timeline.levels is not None
                    and np.array_equal(window.timeline.levels, first), timeout=20_000)


def test_parameter_change_updates_after_view_and_undo_restores(
        qtbot, window: MainWindow, clip: Path) -> None:
    window.open_path(clip)
    _settled(window, qtbot)
    window.inspector.add_step("color")
    _settled(window, qtbot)
    neutral = _mean_level(window.viewer.after_image())
    before = _mean_level(window.viewer.before_image())
    assert neutral == pytest.approx(before, abs=1.0)
    window.inspector.cards[0].controls["exposure"].spin.setValue(1.0)
    qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05)
                    and _mean_level(window.viewer.after_image()) > neutral + 20, timeout=20_000)
    assert window.document.is_dirty and window.isWindowModified()
    window.act_undo.trigger()
    qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05)
                    and _mean_level(window.viewer.after_image()) == pytest.approx(neutral, abs=1),
                    timeout=20_000)
    assert window.inspector.cards[0].controls["exposure"].value() == 0.0
    window.act_redo.trigger()
    assert window.document.recipe(Target(0, None)).steps[0].params.exposure == 1.0


def test_bad_media_is_a_one_line_message_naming_the_file(window: MainWindow, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"this is not a movie" * 10)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _p, _t, text, *a: shown.append(text)))
    assert not window.open_path(bad)
    assert len(shown) == 1 and "broken.mov" in shown[0] and "\n" not in shown[0]
    assert window.stack.currentWidget() is window.empty_page


def test_save_as_and_reopen_round_trip(qtbot, window: MainWindow, clip: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    window.open_path(clip)
    window.inspector.add_step("sharpen")
    window.inspector.cards[0].controls["amount"].spin.setValue(1.25)
    target = tmp_path / "saved.nitrate"
    monkeypatch.setattr("ui.main_window.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(target), ""))
    assert window.save()
    assert not window.document.is_dirty and not window.isWindowModified()
    data = json.loads(target.read_text())
    assert data["clips"][0]["default_recipe"][0]["params"]["amount"] == 1.25
    window.document.close()
    assert window.open_path(target)
    _settled(window, qtbot)
    assert window.inspector.cards[0].controls["amount"].value() == 1.25


def test_close_with_unsaved_changes_prompts(qtbot, settings: QSettings, clip: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=_discard)
    win.show()
    win.open_path(clip)
    win.inspector.add_step("color")
    asked: list[str] = []

    def answer(choice):
        def question(_parent, _title, text, *args, **kwargs):
            asked.append(text)
            return choice
        return staticmethod(question)

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    assert not win.close()
    assert win.isVisible() and len(asked) == 1 and "tiny.mp4" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Discard))
    assert win.close()
    assert len(asked) == 2


def test_settings_remember_preview_scale_and_layout(qtbot, settings: QSettings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(first, before_close_func=_discard)
    first.set_preview_scale(0.25)
    first.set_cache_budget(512 << 20)
    first.render_dock.hide()
    _close(first, monkeypatch)
    second = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(second, before_close_func=_discard)
    assert second.playback.preview_scale == 0.25
    assert second.scale_combo.currentData() == 0.25
    assert second.bridge.cache_budget == 512 << 20
    assert second.render_dock.isHidden()
    _close(second, monkeypatch)


def test_recovery_after_crash_is_offered(qtbot, settings: QSettings, clip: Path,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A previous session: saved, edited, autosaved, then "crashed" (its pid is gone).
    crashed = Document()
    crashed.set_project(Project(clips=[Clip(str(clip), FRAMES)]))
    crashed.save(tmp_path / "work.nitrate")
    crashed.edit_recipe(Target(0, None), Recipe.of([Step.create("color", {"exposure": 2.0})]),
                        "edit")
    autosave = crashed.autosave_now()
    data = json.loads(autosave.read_text())
    data["nitrate_recovery"]["pid"] = 2**22 + 999
    lost = autosave.with_name(f"autosave-{2**22 + 999}.nitrate")
    lost.write_text(json.dumps(data))
    crashed.shutdown()  # removes only its own autosave, as a clean exit would

    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=_discard)
    offered: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda _p, _t, text, *a, **k: offered.append(text) or QMessageBox.StandardButton.Yes))
    assert win.offer_recovery()
    assert "work.nitrate" in offered[0]
    assert win.document.is_dirty and win.document.path == tmp_path / "work.nitrate"
    assert win.inspector.cards[0].controls["exposure"].value() == 2.0
    _settled(win, qtbot)
    _close(win, monkeypatch)


def test_drop_a_project_opens_it(qtbot, window: MainWindow, clip: Path, tmp_path: Path) -> None:
    project = _project_file(clip, tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(project))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.document.path == project, timeout=5000)
    _settled(window, qtbot)
    assert len(window.timeline.shots) == 3


def test_render_whole_clip_from_the_window(qtbot, window: MainWindow, clip: Path,
                                           tmp_path: Path) -> None:
    window.open_path(clip)
    window.inspector.add_step("color")
    out = tmp_path / "restored.mkv"
    with qtbot.waitSignal(window.render_queue.job_finished, timeout=60_000) as blocker:
        ids = window.queue_render(RenderRequest("clip", out, "ffv1", False))
    assert len(ids) == 1
    assert blocker.args[1].state == "done", blocker.args[1].message
    assert probe(out).frame_count == FRAMES


def test_the_render_dialog_remembers_the_checksum_choice(qtbot, window: MainWindow,
                                                         clip: Path, tmp_path: Path) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui.render_queue import OUTPUT_CHOICES, RenderDialog

    window.open_path(clip)
    out = tmp_path / "listed.mkv"
    offered: list[object] = []

    def choose(algorithm: str | None) -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, RenderDialog)
        offered.append(dialog.checksum.currentData())
        dialog.path.setText(str(out))
        dialog.format.setCurrentIndex([c.codec for c in OUTPUT_CHOICES].index("ffv1"))
        dialog.checksum.setCurrentIndex(dialog.checksum.findData(algorithm))
        dialog.accept()

    with qtbot.waitSignal(window.render_queue.job_finished, timeout=60_000) as blocker:
        QTimer.singleShot(0, lambda: choose("sha256"))
        window.render_dialog("clip")
    assert blocker.args[1].state == "done", blocker.args[1].message
    assert (tmp_path / "listed.mkv.sha256").is_file()
    def look() -> None:
        dialog = QApplication.activeModalWidget()
        offered.append(dialog.checksum.currentData())
        dialog.reject()

    QTimer.singleShot(0, look)
    window.render_dialog("clip")
    assert offered == [None, "sha256"]


def test_verify_checksums_reports_a_changed_frame(qtbot, window: MainWindow, clip: Path,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.render import job_for_project
    from engine.render.modes import run_export

    window.open_path(clip)
    out = tmp_path / "frames"
    job = job_for_project(window.document.project_or_raise(), out, codec="png",
                          checksum="md5")
    list(run_export(job))
    with qtbot.waitSignal(window.checksum_verifier.finished, timeout=30_000):
        window.verify_checksums(tmp_path / "frames.md5")
    assert window.verify_box.windowTitle() == "Checksums match"
    assert window.verify_task.isHidden()
    window.verify_box.close()
    first, *_, last = sorted(p for p in out.iterdir() if p.suffix == ".png")
    first.write_bytes(first.read_bytes()[:-1])  # a frame cut short by a failed copy
    last.unlink()
    with qtbot.waitSignal(window.checksum_verifier.finished, timeout=30_000):
        window.verify_checksums(out)
    box = window.verify_box
    assert box.windowTitle() == "Checksums do not match"
    assert "changed: frames/" + first.name in box.text()
    assert box.detailedText() == f"changed: frames/{first.name}\nmissing: frames/{last.name}"
    box.close()
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _p, _t, text, *a: shown.append(text)))
    with qtbot.waitSignal(window.checksum_verifier.finished, timeout=30_000):
        window.verify_checksums(tmp_path / "elsewhere.mov")
    assert shown == [f"{tmp_path / 'elsewhere.mov'}: has no checksum list beside it "
                     "(.md5 or .sha256)"]


def test_render_in_out_without_marks_is_refused(window: MainWindow, clip: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    window.open_path(clip)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _p, _t, text, *a: shown.append(text)))
    assert window.queue_render(RenderRequest("inout", tmp_path / "x.mov", "prores_hq",
                                             False)) == []
    assert shown and "in point" in shown[0]


def test_the_processing_device_is_a_remembered_setting(qtbot, settings) -> None:
    import torch

    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win)
    assert win.device_choice() == "auto"
    assert win.set_device("cpu") and settings.value("device") == "cpu"
    if not torch.cuda.is_available():
        errors = []
        win.show_error = lambda title, text: errors.append(text)  # type: ignore[method-assign]
        assert not win.set_device("cuda")
        assert errors and "cuda" in errors[0] and settings.value("device") == "cpu"


def test_output_frame_rate_is_an_undoable_project_setting(qtbot, settings, clip, tmp_path) -> None:
    from engine.project import load_project
    from engine.render import job_for_project

    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=_discard)
    assert win.open_path(clip)
    errors: list[str] = []
    win.show_error = lambda title, text: errors.append(text)  # type: ignore[method-assign]
    assert not win.set_output_frame_rate("fast")  # refused with a message, nothing changes
    assert errors and "fast" in errors[0]
    assert win.set_output_frame_rate("50")
    project = win.document.project_or_raise()
    assert project.output.fps == "50"
    assert job_for_project(project, tmp_path / "x.mkv").fps == 50
    win.document.undo_stack.undo()
    assert win.document.project_or_raise().output.fps is None
    win.document.undo_stack.redo()
    saved = win.document.save(tmp_path / "rate.nitrate")
    assert load_project(saved).output.fps == "50"
    # Conformed instead: every frame kept at the new rate, the sound with it.
    assert win.set_output_frame_rate("24", "conform")
    qtbot.waitUntil(lambda: bool(win._export_picture()), timeout=10_000)  # the clip is open
    assert "24 fps (conformed frame for frame, the sound with it)" in win._export_picture()
    job = job_for_project(win.document.project_or_raise(), tmp_path / "x.mkv")
    assert (job.fps, job.retime) == (24, "conform")
    saved = win.document.save(tmp_path / "conformed.nitrate")
    # A version-7 Nitrate would refuse "conform" with a puzzling message: version 8.
    assert json.loads(saved.read_text())["version"] == 8
    assert load_project(saved).output.retime == "conform"


def test_proxies_are_made_in_the_background_and_used_for_scrubbing(qtbot, settings, clip) -> None:
    from engine.media.proxy import find_proxy

    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=_discard)
    assert win.open_path(clip)
    with qtbot.waitSignal(win.proxies.finished, timeout=60_000) as blocker:
        win.act_proxies.trigger()
    path, error = blocker.args
    assert error == "" and path and find_proxy(clip) is not None
    assert settings.value("use_proxies", type=bool)
    server = win.bridge._server
    assert server is not None and server._proxy_path == path
    win.act_proxies.trigger()  # off again: scrubbing reads the source
    assert server._proxy_path is None


def test_closing_the_project_empties_the_timeline(qtbot, window: MainWindow,
                                                  clip: Path) -> None:
    assert window.open_path(clip)
    qtbot.waitUntil(lambda: window.timeline.levels is not None, timeout=20_000)
    assert window.timeline.frame_count == FRAMES
    window.close_project()
    # No thumbnails, shots or levels of a clip that is no longer open.
    assert window.timeline.frame_count == 0 and window.timeline.levels is None
    assert window.timeline.shots == [] and window.playback.frame_count == 0
    window.playback.seek(3)   # nothing to seek in: no request, no error
    assert window.viewer.shown_index is None


def test_pulldown_removed_from_the_window_opens_the_film_frames(
        qtbot, window: MainWindow, clip: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from fractions import Fraction

    from engine.synth.scenes import moving_scene
    from engine.synth.telecine import telecine

    transfer = write_frames(tmp_path / "transfer.mkv", telecine(moving_scene(20, 96, 72)),
                            Fraction(30000, 1001))
    with qtbot.waitSignal(window.pulldown_checker.finished, timeout=30_000):
        assert window.open_path(transfer)  # a 29.97 fps clip is checked when it opens
    assert window.statusBar().currentMessage().startswith(
        "This clip looks telecined (3:2 pulldown: 40% of its first 25 frames")
    _settled(window, qtbot)
    out = tmp_path / "film.mkv"
    with qtbot.waitSignal(window.film_frames_writer.finished, timeout=30_000):
        window.remove_pulldown(out)
    qtbot.waitUntil(lambda: window.document.media_path() == out, timeout=10_000)
    assert window.document.project_or_raise().clip.frame_count == 20
    assert window.statusBar().currentMessage() == (
        "film.mkv: 3:2 pulldown removed: 25 video frames → 20 film frames at 23.976 fps")
    # A clip that is not telecined is refused, with the reason, and nothing is written.
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _p, _t, text, *a: shown.append(text)))
    with qtbot.waitSignal(window.film_frames_writer.finished, timeout=30_000):
        window.remove_pulldown(tmp_path / "again.mkv")
    assert len(shown) == 1 and "not telecined" in shown[0]
    assert not (tmp_path / "again.mkv").exists()
