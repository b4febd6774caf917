import { render } from "preact";
import { resumeSignIn } from "./app/signIn";
import { App } from "./ui/App";
import "./styles.css";

resumeSignIn();
render(<App />, document.getElementById("app")!);
